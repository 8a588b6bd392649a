#include "gctool/container/log_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

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

std::filesystem::path rotated_log_path(const std::filesystem::path& log, int index) {
  if (index == 0) {
    return log;
  }
  auto path = log;
  path += "." + std::to_string(index);
  return path;
}

LogWriter::LogWriter(std::filesystem::path path, LogOptions options, std::size_t buffer_size)
    : path_(std::move(path)),
      what_(fmt::format("log \"{}\"", path_.string())),
      options_(options),
      capacity_(buffer_size) {
  if (capacity_ < kLogHeaderSize + 2) {
    throw_invalid("log buffer of {} bytes is too small for a record", capacity_);
  }
  buffer_ = std::make_unique<char[]>(capacity_);
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
    if (body > max_body) {
      body = max_body;
      consumed = body;
      partial = true;
    }
    const std::size_t record = kLogHeaderSize + body + 1;
    const auto pending = file_size_ + static_cast<std::int64_t>(used_);
    if (options_.max_size > 0 && pending > 0 &&
        pending + static_cast<std::int64_t>(record) > options_.max_size) {
      flush();
      rotate();
    }
    if (capacity_ - used_ < record) {
      flush();
    }
    char* out = buffer_.get() + used_;
    std::memcpy(out, header, kLogHeaderSize);
    out[kTagOffset] = partial ? 'P' : 'F';
    std::memcpy(out + kLogHeaderSize, pos, body);
    out[kLogHeaderSize + body] = '\n';
    used_ += record;
    pos += consumed;
  }
  flush();
}

void LogWriter::flush() {
  const std::string_view pending(buffer_.get(), used_);
  // Whatever happens, the buffer is not written twice.
  used_ = 0;
  write_all(fd_, pending, what_);
  file_size_ += static_cast<std::int64_t>(pending.size());
}

void LogWriter::rotate() {
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
