#include "gctool/container/log_format.hpp"

#include <cstdint>
#include <cstring>

#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"
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

std::optional<LogStream> stream_named(std::string_view name) {
  if (name == "stdout") {
    return LogStream::Stdout;
  }
  if (name == "stderr") {
    return LogStream::Stderr;
  }
  return std::nullopt;
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
  const auto named = stream_named(stream);
  if (!named) {
    return std::nullopt;
  }
  record.stream = *named;
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

namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef";

// JSON string escaping as Docker's json-file writes it: quotes, backslashes and control
// characters, and <, >, & as \u escapes (Go's HTML-safe encoding).
void append_json_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || c == '<' || c == '>' || c == '&') {
          out += "\\u00";
          out += kHexDigits[byte >> 4];
          out += kHexDigits[byte & 0xf];
        } else {
          out += c;
        }
    }
  }
}

std::optional<std::uint32_t> hex4(std::string_view text) {
  if (text.size() < 4) {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  for (const char c : text.substr(0, 4)) {
    const auto digit = kHexDigits.find(static_cast<char>(c | 0x20));
    if (digit == std::string_view::npos) {
      return std::nullopt;
    }
    value = value * 16 + static_cast<std::uint32_t>(digit);
  }
  return value;
}

// The JSON string that starts after the opening quote at text[pos]: unescaped into out (when
// not null); pos ends after the closing quote. False when it is not a valid string.
bool read_json_string(std::string_view text, std::size_t& pos, std::string* out) {
  while (pos < text.size()) {
    const char c = text[pos++];
    if (c == '"') {
      return true;
    }
    if (c != '\\') {
      if (out != nullptr) {
        *out += c;
      }
      continue;
    }
    if (pos >= text.size()) {
      return false;
    }
    const char e = text[pos++];
    char plain = 0;
    switch (e) {
      case '"':
      case '\\':
      case '/':
        plain = e;
        break;
      case 'b':
        plain = '\b';
        break;
      case 'f':
        plain = '\f';
        break;
      case 'n':
        plain = '\n';
        break;
      case 'r':
        plain = '\r';
        break;
      case 't':
        plain = '\t';
        break;
      case 'u': {
        auto code = hex4(text.substr(pos));
        if (!code) {
          return false;
        }
        pos += 4;
        // A surrogate pair is one character.
        if (*code >= 0xd800 && *code < 0xdc00 && text.substr(pos, 2) == "\\u") {
          if (const auto low = hex4(text.substr(pos + 2)); low && *low >= 0xdc00 && *low < 0xe000) {
            code = 0x10000 + ((*code - 0xd800) << 10) + (*low - 0xdc00);
            pos += 6;
          }
        }
        if (out != nullptr) {
          append_utf8(*out, *code);
        }
        continue;
      }
      default:
        return false;
    }
    if (out != nullptr) {
      *out += plain;
    }
  }
  return false;
}

}  // namespace

void append_json_log_record(std::string& out, LogStream stream, std::string_view message,
                            std::string_view timestamp) {
  // Go's RFC3339Nano drops the fraction's trailing zeros, and the dot with them.
  std::string_view time = timestamp.substr(0, timestamp.size() - 1);
  while (time.ends_with('0')) {
    time.remove_suffix(1);
  }
  if (time.ends_with('.')) {
    time.remove_suffix(1);
  }
  out += "{\"log\":\"";
  append_json_escaped(out, message);
  out += "\",\"stream\":\"";
  out += log_stream_name(stream);
  out += "\",\"time\":\"";
  out += time;
  out += "Z\"}\n";
}

std::optional<LogRecord> parse_json_log_record(std::string_view line, std::string& message) {
  message.clear();
  LogRecord record;
  bool has_log = false;
  bool has_stream = false;
  std::size_t pos = 0;
  const auto skip_blank = [&] {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r')) {
      ++pos;
    }
  };
  skip_blank();
  if (pos >= line.size() || line[pos++] != '{') {
    return std::nullopt;
  }
  for (;;) {
    skip_blank();
    if (pos < line.size() && line[pos] == '}') {
      break;
    }
    if (pos >= line.size() || line[pos++] != '"') {
      return std::nullopt;
    }
    const std::size_t key_start = pos;
    if (!read_json_string(line, pos, nullptr)) {
      return std::nullopt;
    }
    const auto key = line.substr(key_start, pos - key_start - 1);
    skip_blank();
    if (pos >= line.size() || line[pos++] != ':') {
      return std::nullopt;
    }
    skip_blank();
    // Only string values (Docker writes attrs as an object, which is skipped here only when
    // empty: a record with others is not one of ours).
    if (pos >= line.size() || line[pos++] != '"') {
      return std::nullopt;
    }
    const std::size_t value_start = pos;
    if (!read_json_string(line, pos, key == "log" ? &message : nullptr)) {
      return std::nullopt;
    }
    const auto value = line.substr(value_start, pos - value_start - 1);
    if (key == "log") {
      has_log = true;
    } else if (key == "stream") {
      const auto named = stream_named(value);
      if (!named) {
        return std::nullopt;
      }
      record.stream = *named;
      has_stream = true;
    } else if (key == "time") {
      record.timestamp = value;
    }
    skip_blank();
    if (pos < line.size() && line[pos] == ',') {
      ++pos;
    }
  }
  if (!has_log || !has_stream || record.timestamp.empty()) {
    return std::nullopt;
  }
  record.partial = !message.ends_with('\n');
  if (!record.partial) {
    message.pop_back();
  }
  record.message = message;
  return record;
}

std::optional<LogRecord> parse_any_log_record(std::string_view line, std::string& scratch) {
  if (line.starts_with('{')) {
    return parse_json_log_record(line, scratch);
  }
  return parse_log_record(line);
}

bool json_log_record_ends_line(std::string_view end) {
  // The only unescaped `","stream":"` of a record is the one after its log.
  const auto at = end.rfind("\",\"stream\":\"");
  if (at == std::string_view::npos || at < 2 || end.substr(at - 2, 2) != "\\n") {
    return false;
  }
  // `\\n` is a backslash and an n: the n is escaped only after an odd run of backslashes.
  std::size_t backslashes = 0;
  for (std::size_t i = at - 1; i-- > 0 && end[i] == '\\';) {
    ++backslashes;
  }
  return backslashes % 2 == 1;
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
