// Writes a container's output into its log file as CRI records (json-file records with
// --log-driver json-file, nothing with none), with size-based rotation.
// Built for throughput: each chunk of output (one read from a pipe) becomes one writev(2) of
// formatted records: headers and short lines copied into a fixed-size buffer, long lines taken
// from the caller's memory; the time is read once per chunk.
#pragma once

#include <sys/uio.h>
#include <time.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "gctool/container/log_format.hpp"
#include "gctool/container/log_options.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::container {

// <container_dir>/container.log
std::filesystem::path container_log_path(const std::filesystem::path& container_dir);
// The log file of a driver: container.log (local), <id>-json.log (json-file, Docker's name; the
// directory's name is the id), empty for none.
std::filesystem::path container_log_path(const std::filesystem::path& container_dir,
                                         LogDriver driver);

// The log itself for index 0, else "<log>.<index>" (container.log.1 is the newest rotated file).
std::filesystem::path rotated_log_path(const std::filesystem::path& log, int index);

// A lock on the log's directory (flock on its fd, released when the fd closes) that orders
// rotations against readers: a rotation renames every file one place along, and a reader that
// looked for the files after its own meanwhile would skip or repeat one. The writer takes it
// exclusive around a rotation, giving up after a short wait (a stopped reader must not stall the
// container's output), readers shared while they find and open the files. Invalid when the
// directory cannot be opened or locked.
UniqueFd lock_log_rotation(const std::filesystem::path& log, bool exclusive);

// Uninitialized memory for log data, aligned to a cache line. The kernel copies between such
// buffers and pipes or files with `rep movsb`, which on this project's machine (AMD EPYC) is far
// slower when the user address is not 32-byte aligned: the 16 bytes past a page where malloc puts
// a 128 KiB block made reading the container's pipe cost 40% more CPU.
inline constexpr std::size_t kLogBufferAlignment = 64;

struct LogBufferDelete {
  void operator()(char* data) const noexcept {
    ::operator delete[](data, std::align_val_t{kLogBufferAlignment});
  }
};
using LogBuffer = std::unique_ptr<char[], LogBufferDelete>;

// Its pages are touched only when written, so that unused space costs no memory.
inline LogBuffer make_log_buffer(std::size_t size) {
  return LogBuffer(
      static_cast<char*>(::operator new[](size, std::align_val_t{kLogBufferAlignment})));
}

class LogWriter {
 public:
  // Size of the buffer each stream should read into before calling write().
  static constexpr std::size_t kReadBufferSize = 128 * 1024;
  // Fits a kReadBufferSize chunk of 80-byte lines with their headers (1.5 times the bytes).
  static constexpr std::size_t kDefaultBufferSize = kReadBufferSize * 3 / 2 + 4096;

  // Opens the log at path for appending (created 0640 when missing); with the none driver opens
  // nothing and writes nothing. buffer_size bounds the memory used and, when a chunk's records
  // do not fit, makes a chunk take several writes.
  explicit LogWriter(std::filesystem::path path, LogOptions options = {},
                     std::size_t buffer_size = kDefaultBufferSize);
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Writes the bytes read from stream as records stamped with the current time: one F record
  // per line, a P record for a piece without its newline (the rest of the line follows in a
  // later chunk) or longer than the buffer. Records of two calls never interleave. Throws Error
  // naming the file when writing or rotating fails.
  void write(LogStream stream, std::string_view data);
  // The same with a given time, for tests and for callers that already know it.
  void write(LogStream stream, std::string_view data, const timespec& time);

  const std::filesystem::path& path() const noexcept { return path_; }
  // Bytes in the current container.log.
  std::int64_t file_size() const noexcept { return file_size_; }

 private:
  // Bodies this long are not copied: writev takes them from the caller's memory.
  static constexpr std::size_t kByReferenceBody = 1024;
  static constexpr std::size_t kMaxIov = 64;

  void open_file();
  void write_json(LogStream stream, std::string_view data, const timespec& time);
  void write_out(std::string_view bytes);
  void close_segment();
  void flush();
  void rotate();

  std::filesystem::path path_;
  std::string what_;  // the log as errors name it
  LogOptions options_;
  UniqueFd fd_;
  std::int64_t file_size_ = 0;
  LogBuffer buffer_;
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
  std::size_t segment_start_ = 0;  // the part of the buffer not yet in iov_
  std::size_t pending_ = 0;        // bytes queued in iov_ and the buffer
  std::array<iovec, kMaxIov> iov_{};
  std::size_t iov_count_ = 0;
  LogTimestampFormatter formatter_;
  std::string json_;  // json-file: the records of a chunk
};

}  // namespace gctool::container
