// Reads a container's log (CRI records, or json-file ones) back as the container wrote it: stdout
// and stderr each on their own stream, P pieces joined into their line, with `docker logs` options
// (--tail, --since, -t) and following across rotations.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/container/log_format.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::container {

struct LogReadOptions {
  // Only the last N lines logged so far; nullopt: all of them.
  std::optional<std::size_t> tail;
  // Only lines that started at or after this time.
  std::optional<std::chrono::system_clock::time_point> since;
  // Prefix every line with its time as `docker logs -t` does: "<RFC3339 nano> <line>".
  bool timestamps = false;
};

// Where a reader sends the bytes of each stream.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(LogStream stream, std::string_view bytes) = 0;
  // Each record that passes the options, in order. The default writes it through write(): its
  // time first when `timestamps` and it starts a line, a newline after a whole line. A sink that
  // wants records rather than bytes overrides it.
  virtual void record(const LogRecord& record, bool starts_line, bool timestamps);
  // Called after each batch of records, so that a follower shows them without delay.
  virtual void flush() {}
};

// Buffers output for two file descriptors (usually 1 and 2). Flushes when the stream changes, so
// that a terminal showing both sees the lines in their order.
class FdLogSink final : public LogSink {
 public:
  FdLogSink(BorrowedFd out, BorrowedFd err);
  FdLogSink(const FdLogSink&) = delete;
  FdLogSink& operator=(const FdLogSink&) = delete;
  // Writes what is left, ignoring errors: call flush() to see them.
  ~FdLogSink() override;

  void write(LogStream stream, std::string_view bytes) override;
  // Writes the buffered bytes; throws Error on failure.
  void flush() override;

 private:
  BorrowedFd out_;
  BorrowedFd err_;
  LogStream current_ = LogStream::Stdout;
  std::vector<char> buffer_;
};

class LogReader {
 public:
  // log is the path of container.log; rotated files are found next to it.
  LogReader(std::filesystem::path log, LogReadOptions options, LogSink& sink);
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // Copies what has been logged so far: rotated files oldest first, then container.log, starting
  // where --tail says. Tail scans from the end, so a short tail of a big log reads little. A torn
  // last record (being written) is kept back for read_new(). Flushes the sink.
  void read_existing();

  // Copies records appended since the last call. When container.log was renamed by a rotation
  // (another inode under the name), finishes the old file, reads the rotated files written in
  // between and continues with the new container.log. True when anything was read. Flushes the
  // sink.
  bool read_new();

 private:
  struct LineState {
    bool open = false;  // inside a line: the last record was P
    bool skip = false;  // the line started before --since
  };

  bool read_appended();
  std::size_t drain(BorrowedFd fd);
  void emit(std::string_view line);
  bool open_current();

  std::filesystem::path log_;
  LogReadOptions options_;
  LogSink& sink_;
  UniqueFd current_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  LineState lines_[2];
  std::string message_;  // a json-file record's message, unescaped
};

}  // namespace gctool::container
