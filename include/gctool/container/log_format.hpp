// The CRI log format that conmon and containerd write, one record per line:
//   2026-01-02T03:04:05.123456789Z stdout F message
// "F" ends a line; "P" is a piece of a longer line (or of output without a trailing newline),
// continued by the next record of the same stream. Readers join P pieces and end the line at F.
#pragma once

#include <time.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gctool::container {

enum class LogStream : unsigned char { Stdout, Stderr };

constexpr std::string_view log_stream_name(LogStream stream) {
  return stream == LogStream::Stdout ? "stdout" : "stderr";
}

// "2026-01-02T03:04:05.123456789Z": UTC, always nine fraction digits.
inline constexpr std::size_t kLogTimestampSize = 30;
// Timestamp, stream and tag with their separators: "<ts> stdout F ".
inline constexpr std::size_t kLogHeaderSize = kLogTimestampSize + 10;

// Formats record timestamps. Keeps the formatted seconds part, so that a call within the same
// second as the previous one only formats the nine fraction digits.
class LogTimestampFormatter {
 public:
  // Writes exactly kLogTimestampSize bytes at out.
  void format(const timespec& time, char* out);

 private:
  time_t cached_seconds_ = -1;
  char cached_[20] = {};  // "2026-01-02T03:04:05."
};

// One parsed record; the views point into the line it was parsed from.
struct LogRecord {
  std::string_view timestamp;
  LogStream stream = LogStream::Stdout;
  bool partial = false;
  std::string_view message;
};

// Parses one line of a log file (without its '\n'); nullopt when it is not a record (a torn or
// foreign line), so that readers can skip it.
std::optional<LogRecord> parse_log_record(std::string_view line);

// Docker's json-file format (--log-driver json-file), one JSON object per line:
//   {"log":"message\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}
// A record whose log does not end with a newline is a piece of a longer line, like CRI's P. The
// time is Go's RFC3339Nano: trailing zeros of the fraction dropped.

// Appends the record of one piece of output (its newline included when it ends a line) to out.
// `timestamp` is a LogTimestampFormatter timestamp.
void append_json_log_record(std::string& out, LogStream stream, std::string_view message,
                            std::string_view timestamp);

// Parses a json-file record (without its '\n'); the message, unescaped and without the newline
// that ends its line, is kept in `message`, which the returned record's view points into.
std::optional<LogRecord> parse_json_log_record(std::string_view line, std::string& message);

// A record of either format: json-file records start with '{'.
std::optional<LogRecord> parse_any_log_record(std::string_view line, std::string& scratch);

// Whether the json-file record that ends with `end` (its last bytes, at least the "stream" and
// "time" fields) ends a line: its log ends with an escaped newline.
bool json_log_record_ends_line(std::string_view end);

// The time of a record timestamp: the fixed format above fast, any other RFC 3339 form through
// core/time.hpp. nullopt when it is not a timestamp.
std::optional<std::chrono::system_clock::time_point> parse_log_timestamp(std::string_view text);

}  // namespace gctool::container
