#include "gctool/container/log_format.hpp"

#include <cstring>

#include "gctool/core/error.hpp"
#include "gctool/core/time.hpp"

namespace gctool::container {
namespace {

void put_digits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// The number in text[pos, pos + width) when all are digits, else -1.
int digits_at(std::string_view text, std::size_t pos, std::size_t width) {
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      return -1;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

// Splits off the text up to the next space; the rest follows the space.
std::string_view next_field(std::string_view& rest) {
  const auto space = rest.find(' ');
  if (space == std::string_view::npos) {
    const auto field = rest;
    rest = {};
    return field;
  }
  const auto field = rest.substr(0, space);
  rest.remove_prefix(space + 1);
  return field;
}

}  // namespace

void LogTimestampFormatter::format(const timespec& time, char* out) {
  if (time.tv_sec != cached_seconds_) {
    tm parts{};
    gmtime_r(&time.tv_sec, &parts);
    put_digits(cached_, static_cast<unsigned>(parts.tm_year + 1900), 4);
    cached_[4] = '-';
    put_digits(cached_ + 5, static_cast<unsigned>(parts.tm_mon + 1), 2);
    cached_[7] = '-';
    put_digits(cached_ + 8, static_cast<unsigned>(parts.tm_mday), 2);
    cached_[10] = 'T';
    put_digits(cached_ + 11, static_cast<unsigned>(parts.tm_hour), 2);
    cached_[13] = ':';
    put_digits(cached_ + 14, static_cast<unsigned>(parts.tm_min), 2);
    cached_[16] = ':';
    put_digits(cached_ + 17, static_cast<unsigned>(parts.tm_sec), 2);
    cached_[19] = '.';
    cached_seconds_ = time.tv_sec;
  }
  std::memcpy(out, cached_, sizeof cached_);
  put_digits(out + sizeof cached_, static_cast<unsigned>(time.tv_nsec), 9);
  out[kLogTimestampSize - 1] = 'Z';
}

std::optional<LogRecord> parse_log_record(std::string_view line) {
  std::string_view rest = line;
  LogRecord record;
  record.timestamp = next_field(rest);
  const auto stream = next_field(rest);
  const auto tags = next_field(rest);
  if (record.timestamp.empty()) {
    return std::nullopt;
  }
  if (stream == "stdout") {
    record.stream = LogStream::Stdout;
  } else if (stream == "stderr") {
    record.stream = LogStream::Stderr;
  } else {
    return std::nullopt;
  }
  // The first tag says full or partial; CRI allows more tags after a ':'.
  const auto tag = tags.substr(0, tags.find(':'));
  if (tag == "F") {
    record.partial = false;
  } else if (tag == "P") {
    record.partial = true;
  } else {
    return std::nullopt;
  }
  record.message = rest;
  return record;
}

std::optional<std::chrono::system_clock::time_point> parse_log_timestamp(std::string_view text) {
  using namespace std::chrono;
  if (text.size() == kLogTimestampSize && text[4] == '-' && text[7] == '-' && text[10] == 'T' &&
      text[13] == ':' && text[16] == ':' && text[19] == '.' && text[29] == 'Z') {
    const int year = digits_at(text, 0, 4);
    const int month = digits_at(text, 5, 2);
    const int day = digits_at(text, 8, 2);
    const int hour = digits_at(text, 11, 2);
    const int minute = digits_at(text, 14, 2);
    const int second = digits_at(text, 17, 2);
    const int nanos = digits_at(text, 20, 9);
    const year_month_day date{std::chrono::year{year},
                              std::chrono::month{static_cast<unsigned>(month)},
                              std::chrono::day{static_cast<unsigned>(day)}};
    if (year >= 0 && month >= 0 && day >= 0 && hour >= 0 && hour < 24 && minute >= 0 &&
        minute < 60 && second >= 0 && second < 61 && nanos >= 0 && date.ok()) {
      const auto time =
          sys_days{date} + hours{hour} + minutes{minute} + seconds{second} + nanoseconds{nanos};
      return time_point_cast<system_clock::duration>(time);
    }
    return std::nullopt;
  }
  try {
    return parse_rfc3339(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace gctool::container
