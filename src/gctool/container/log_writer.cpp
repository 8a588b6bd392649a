#include "gctool/container/log_writer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool::container {
namespace {

// Offsets inside the header "<timestamp> stdout F ".
constexpr std::size_t kStreamOffset = kLogTimestampSize + 1;
constexpr std::size_t kTagOffset = kStreamOffset + 7;

}  // namespace

std::filesystem::path container_log_path(const std::filesystem::path& container_dir) {
  return container_dir / "container.log";
}

std::filesystem::path container_log_path(const std::filesystem::path& container_dir,
                                         LogDriver driver) {
  switch (driver) {
    case LogDriver::json_file:
      return container_dir / (container_dir.filename().string() + "-json.log");
    case LogDriver::none:
      return {};
    case LogDriver::local:
      break;
  }
  return container_log_path(container_dir);
}

std::filesystem::path rotated_log_path(const std::filesystem::path& log, int index) {
  if (index == 0) {
    return log;
  }
  auto path = log;
  path += fmt::format(".{}", index);
  return path;
}

UniqueFd lock_log_rotation(const std::filesystem::path& log, bool exclusive) {
  const auto dir = log.has_parent_path() ? log.parent_path() : std::filesystem::path(".");
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return fd;
  }
  if (!exclusive) {
    while (::flock(fd.get(), LOCK_SH) != 0) {
      if (errno != EINTR) {
        return UniqueFd();
      }
    }
    return fd;
  }
  // Readers hold it for the few opens and reads of a rotation: 100 ms is ample.
  for (int tries = 0; ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0; ++tries) {
    if (errno != EWOULDBLOCK || tries == 100) {
      return UniqueFd();
    }
    ::usleep(1000);
  }
  return fd;
}

LogWriter::LogWriter(std::filesystem::path path, LogOptions options, std::size_t buffer_size)
    : path_(std::move(path)),
      what_(fmt::format("log \"{}\"", path_.string())),
      options_(options),
      capacity_(buffer_size) {
  if (capacity_ < kLogHeaderSize + 2) {
    throw_invalid("log buffer of {} bytes is too small for a record", capacity_);
  }
  if (options_.driver == LogDriver::none) {
    return;
  }
  // Not zeroed: pages the container never fills with output are never touched.
  buffer_ = make_log_buffer(capacity_);
  open_file();
}

void LogWriter::open_file() {
  fd_ = UniqueFd(check(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640),
                       "open log \"{}\"", path_.string()));
  struct stat st {};
  check(::fstat(fd_.get(), &st), "stat log \"{}\"", path_.string());
  file_size_ = st.st_size;
}

void LogWriter::write(LogStream stream, std::string_view data) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  write(stream, data, now);
}

void LogWriter::write(LogStream stream, std::string_view data, const timespec& time) {
  if (options_.driver != LogDriver::local) {
    if (options_.driver == LogDriver::json_file) {
      write_json(stream, data, time);
    }
    return;
  }
  // The header is the same for every record of the chunk but for the tag.
  char header[kLogHeaderSize];
  formatter_.format(time, header);
  header[kLogTimestampSize] = ' ';
  std::memcpy(header + kStreamOffset, log_stream_name(stream).data(), 6);
  header[kTagOffset - 1] = ' ';
  header[kTagOffset + 1] = ' ';

  const std::size_t max_body = capacity_ - kLogHeaderSize - 1;
  const char* pos = data.data();
  const char* const end = pos + data.size();
  while (pos < end) {
    const auto* newline = static_cast<const char*>(std::memchr(pos, '\n', end - pos));
    bool partial = newline == nullptr;
    std::size_t body = static_cast<std::size_t>((partial ? end : newline) - pos);
    std::size_t consumed = partial ? body : body + 1;
    // Long bodies are written from the caller's memory (writev), so only short ones are limited
    // by the buffer.
    const bool by_reference = body >= kByReferenceBody;
    if (!by_reference && body > max_body) {
      body = max_body;
      consumed = body;
      partial = true;
    }
    const std::size_t record = kLogHeaderSize + body + 1;
    const auto queued = file_size_ + static_cast<std::int64_t>(pending_);
    if (options_.max_size > 0 && queued > 0 &&
        queued + static_cast<std::int64_t>(record) > options_.max_size) {
      flush();
      rotate();
    }
    const std::size_t in_buffer = by_reference ? kLogHeaderSize + 1 : record;
    if (capacity_ - used_ < in_buffer || iov_count_ + 2 >= kMaxIov) {
      flush();
    }
    char* out = buffer_.get() + used_;
    std::memcpy(out, header, kLogHeaderSize);
    out[kTagOffset] = partial ? 'P' : 'F';
    used_ += kLogHeaderSize;
    if (by_reference) {
      close_segment();
      iov_[iov_count_++] = iovec{const_cast<char*>(pos), body};
    } else {
      std::memcpy(buffer_.get() + used_, pos, body);
      used_ += body;
    }
    buffer_[used_++] = '\n';
    pending_ += record;
    pos += consumed;
  }
  flush();
}

void LogWriter::write_json(LogStream stream, std::string_view data, const timespec& time) {
  // As Docker's json-file: a line longer than this is written as several records.
  constexpr std::size_t kMaxMessage = 16 * 1024;
  char stamp[kLogTimestampSize];
  formatter_.format(time, stamp);
  const std::string_view timestamp(stamp, sizeof stamp);
  json_.clear();
  std::size_t pos = 0;
  while (pos < data.size()) {
    const auto newline = data.find('\n', pos);
    std::size_t end = newline == std::string_view::npos ? data.size() : newline + 1;
    end = std::min(end, pos + kMaxMessage);
    const std::size_t before = json_.size();
    append_json_log_record(json_, stream, data.substr(pos, end - pos), timestamp);
    const auto size = static_cast<std::int64_t>(json_.size());
    if (options_.max_size > 0 && file_size_ + static_cast<std::int64_t>(before) > 0 &&
        file_size_ + size > options_.max_size) {
      write_out(std::string_view(json_).substr(0, before));
      json_.erase(0, before);
      rotate();
    }
    pos = end;
  }
  write_out(json_);
}

void LogWriter::write_out(std::string_view bytes) {
  write_all(fd_.borrow(), bytes, what_);
  file_size_ += static_cast<std::int64_t>(bytes.size());
}

void LogWriter::close_segment() {
  if (used_ > segment_start_) {
    iov_[iov_count_++] = iovec{buffer_.get() + segment_start_, used_ - segment_start_};
    segment_start_ = used_;
  }
}

void LogWriter::flush() {
  close_segment();
  iovec* iov = iov_.data();
  std::size_t count = iov_count_;
  // Whatever happens, nothing queued is written twice.
  used_ = segment_start_ = iov_count_ = pending_ = 0;
  while (count > 0) {
    const ssize_t n = ::writev(fd_.get(), iov, static_cast<int>(count));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("write {}", what_);
    }
    file_size_ += n;
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
}

void LogWriter::rotate() {
  const auto lock = lock_log_rotation(path_, true);
  // container.log.(N-2) -> .(N-1), ..., container.log -> .1: rename replaces the oldest.
  for (int index = options_.max_files - 1; index >= 1; --index) {
    const auto from = rotated_log_path(path_, index - 1);
    const auto to = rotated_log_path(path_, index);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      throw_errno("rotate log \"{}\" to \"{}\"", from.string(), to.string());
    }
  }
  if (options_.max_files <= 1 && ::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    throw_errno("remove full log \"{}\"", path_.string());
  }
  open_file();
}

}  // namespace gctool::container
