#include "gctool/container/log_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gctool/container/log_tail.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool::container {
namespace {

constexpr std::size_t kSinkBufferSize = 64 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
// A record longer than this is not one gctool wrote; refuse rather than grow without bound.
constexpr std::size_t kMaxRecord = 16 * 1024 * 1024;

UniqueFd try_open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT) {
    throw_errno("open log \"{}\"", path.string());
  }
  return UniqueFd(fd);
}

struct stat stat_fd(BorrowedFd fd, const std::filesystem::path& path) {
  struct stat st {};
  check(::fstat(fd.get(), &st), "stat log \"{}\"", path.string());
  return st;
}

// Rotated files present next to log: indices 1..N without a gap.
int count_rotated(const std::filesystem::path& log) {
  int count = 0;
  struct stat st {};
  while (::stat(rotated_log_path(log, count + 1).c_str(), &st) == 0) {
    ++count;
  }
  return count;
}

}  // namespace

void LogSink::record(const LogRecord& record, bool starts_line, bool timestamps) {
  if (starts_line && timestamps) {
    write(record.stream, record.timestamp);
    write(record.stream, " ");
  }
  write(record.stream, record.message);
  if (!record.partial) {
    write(record.stream, "\n");
  }
}

FdLogSink::FdLogSink(BorrowedFd out, BorrowedFd err) : out_(out), err_(err) {
  buffer_.reserve(kSinkBufferSize);
}

FdLogSink::~FdLogSink() {
  try {
    flush();
  } catch (const Error&) {
    // Nowhere left to report it; flush() is how callers see errors.
  }
}

void FdLogSink::write(LogStream stream, std::string_view bytes) {
  if (stream != current_ || buffer_.size() + bytes.size() > kSinkBufferSize) {
    flush();
    current_ = stream;
  }
  if (bytes.size() >= kSinkBufferSize) {
    write_all(current_ == LogStream::Stdout ? out_ : err_, bytes, log_stream_name(current_));
    return;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void FdLogSink::flush() {
  if (buffer_.empty()) {
    return;
  }
  const auto fd = current_ == LogStream::Stdout ? out_ : err_;
  // Cleared first: a failed write is not retried with the same bytes.
  std::vector<char> pending;
  pending.swap(buffer_);
  buffer_.reserve(kSinkBufferSize);
  write_all(fd, std::string_view(pending.data(), pending.size()), log_stream_name(current_));
}

LogReader::LogReader(std::filesystem::path log, LogReadOptions options, LogSink& sink)
    : log_(std::move(log)), options_(options), sink_(sink), buffer_(kReadChunk * 2) {}

void LogReader::emit(std::string_view line) {
  const auto record = parse_any_log_record(line, message_);
  if (!record) {
    return;
  }
  auto& state = lines_[record->stream == LogStream::Stdout ? 0 : 1];
  if (!state.open) {
    state.skip = false;
    if (options_.since) {
      const auto time = parse_log_timestamp(record->timestamp);
      state.skip = !time || *time < *options_.since;
    }
  }
  if (!state.skip) {
    sink_.record(*record, !state.open, options_.timestamps);
  }
  state.open = record->partial;
}

std::size_t LogReader::drain(BorrowedFd fd) {
  std::size_t total = 0;
  while (true) {
    if (buffer_.size() - end_ < kReadChunk / 2) {
      // Make room: drop consumed bytes, then grow for a record longer than the buffer.
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      if (buffer_.size() - end_ < kReadChunk / 2) {
        if (buffer_.size() >= kMaxRecord) {
          throw_invalid("log \"{}\" has a record longer than {} bytes", log_.string(), kMaxRecord);
        }
        buffer_.resize(buffer_.size() * 2);
      }
    }
    const ssize_t n = ::read(fd.get(), buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("read log \"{}\"", log_.string());
    }
    if (n == 0) {
      return total;
    }
    const std::size_t scan_from = end_;
    end_ += static_cast<std::size_t>(n);
    total += static_cast<std::size_t>(n);
    const char* base = buffer_.data();
    const void* newline = std::memchr(base + scan_from, '\n', end_ - scan_from);
    while (newline != nullptr) {
      const auto at = static_cast<std::size_t>(static_cast<const char*>(newline) - base);
      emit({base + begin_, at - begin_});
      begin_ = at + 1;
      newline = std::memchr(base + begin_, '\n', end_ - begin_);
    }
    if (begin_ == end_) {
      begin_ = end_ = 0;
    }
  }
}

bool LogReader::open_current() {
  current_ = try_open(log_);
  if (!current_.valid()) {
    return false;
  }
  const auto st = stat_fd(current_, log_);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  return true;
}

void LogReader::read_existing() {
  // Every file is opened with no rotation under way: what rotates away afterwards is still read
  // through its fd.
  std::vector<UniqueFd> files;  // oldest first
  {
    const auto lock = lock_log_rotation(log_, false);
    open_current();
    for (int index = count_rotated(log_); index >= 1; --index) {
      auto fd = try_open(rotated_log_path(log_, index));
      if (fd.valid()) {
        files.push_back(std::move(fd));
      }
    }
  }
  std::size_t first = 0;
  off_t offset = 0;
  if (options_.tail) {
    std::size_t wanted = *options_.tail;
    // Newest file first, until one holds the start of the tail.
    const auto count = files.size() + (current_.valid() ? 1 : 0);
    first = count;
    for (std::size_t i = count; i-- > 0;) {
      const bool newest = current_.valid() && i == files.size();
      const BorrowedFd fd = newest ? current_.borrow() : files[i].borrow();
      const auto found = find_log_tail_start(fd, stat_fd(fd, log_).st_size, wanted, newest);
      first = i;
      offset = found.offset;
      if (found.lines == wanted && (found.offset > 0 || wanted == 0)) {
        break;
      }
      wanted -= found.lines;
      offset = 0;
    }
  }
  for (std::size_t i = first; i < files.size(); ++i) {
    check(::lseek(files[i].get(), i == first ? offset : 0, SEEK_SET), "seek log");
    drain(files[i]);
    begin_ = end_ = 0;
  }
  if (current_.valid()) {
    check(::lseek(current_.get(), first == files.size() ? offset : 0, SEEK_SET), "seek log");
    drain(current_);
  }
  sink_.flush();
}

bool LogReader::read_new() {
  const bool progressed = read_appended();
  sink_.flush();
  return progressed;
}

bool LogReader::read_appended() {
  if (!current_.valid()) {
    // No log yet: it appears with the container's first output or after a rotation.
    if (!open_current()) {
      return false;
    }
    drain(current_);
    return true;
  }
  const bool progressed = drain(current_) > 0;
  struct stat st {};
  if (::stat(log_.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return progressed;  // between the removal and the creation of a new container.log
    }
    throw_errno("stat log \"{}\"", log_.string());
  }
  if (st.st_dev == dev_ && st.st_ino == ino_) {
    return progressed;
  }
  // Rotated: what was written before the rename is still reachable through our fd.
  drain(current_);
  begin_ = end_ = 0;
  // The files after ours are found and opened with no rotation under way (which would move
  // them along), then read without holding up the writer.
  std::vector<UniqueFd> newer;  // oldest first
  bool have_current = false;
  {
    const auto lock = lock_log_rotation(log_, false);
    // If ours is gone (rotated past max-file or removed), every rotated file left is newer.
    const int rotated = count_rotated(log_);
    int next = rotated;
    for (int index = 1; index <= rotated; ++index) {
      struct stat old {};
      if (::stat(rotated_log_path(log_, index).c_str(), &old) == 0 && old.st_dev == dev_ &&
          old.st_ino == ino_) {
        next = index - 1;
        break;
      }
    }
    for (int index = next; index >= 1; --index) {
      if (auto fd = try_open(rotated_log_path(log_, index)); fd.valid()) {
        newer.push_back(std::move(fd));
      }
    }
    have_current = open_current();
  }
  for (const auto& fd : newer) {
    drain(fd);
    // A torn record at the end of a finished file never completes.
    begin_ = end_ = 0;
  }
  if (have_current) {
    drain(current_);
  }
  return true;
}

}  // namespace gctool::container
