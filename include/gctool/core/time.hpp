// Timestamps as Docker prints and accepts them: RFC 3339 with nanoseconds in state and logs, and
// the --since/--until forms of `docker logs`.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "gctool/core/decimal.hpp"
#include "gctool/core/error.hpp"

namespace gctool {

// UTC with exactly nine fraction digits, so that the strings sort as the times do:
// "2026-01-02T03:04:05.123456789Z".
std::string format_rfc3339_nano(std::chrono::system_clock::time_point time);

// "2026-01-02T03:04:05Z", with an optional fraction (up to nanoseconds; further digits are
// dropped) and "Z" or a "+hh:mm"/"-hh:mm" offset. Throws an invalid-input Error on anything else,
// including impossible dates.
std::chrono::system_clock::time_point parse_rfc3339(std::string_view text);

// Go's duration syntax as in Docker: a sequence of decimal numbers with units ns, us, ms, s, m, h:
// "42s", "1h30m", "1.5h", "0". Not negative. Throws an invalid-input Error.
std::chrono::nanoseconds parse_duration(std::string_view text);

// A --since/--until value: a duration before now ("10m", "1h30m"), a Unix timestamp in seconds
// ("1700000000", "1700000000.5"), an RFC 3339 time, or one without offset ("2026-01-02",
// "2026-01-02T03:04:05") taken as local time, as Docker does.
std::chrono::system_clock::time_point parse_since(std::string_view text,
                                                  std::chrono::system_clock::time_point now);

// The definitions: header-only, as all of gctool::core.
namespace detail {

namespace chr = std::chrono;

// Reads the fixed-width fields of a date-time from left to right.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : rest_(text) {}

  std::optional<int> digits(std::size_t count) {
    if (rest_.size() < count) {
      return std::nullopt;
    }
    int value = 0;
    for (const char c : rest_.substr(0, count)) {
      if (c < '0' || c > '9') {
        return std::nullopt;
      }
      value = value * 10 + (c - '0');
    }
    rest_.remove_prefix(count);
    return value;
  }

  // Consumes the next character when it is one of chars; returns it, or '\0'.
  char one_of(std::string_view chars) {
    if (rest_.empty() || chars.find(rest_.front()) == std::string_view::npos) {
      return '\0';
    }
    const char c = rest_.front();
    rest_.remove_prefix(1);
    return c;
  }

  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// The parts of "YYYY-MM-DD[Thh:mm:ss[.fff]][Z|+hh:mm]".
struct CivilTime {
  chr::year_month_day date;
  chr::nanoseconds time_of_day{0};
  bool has_time = false;
  std::optional<chr::minutes> offset;  // east of UTC
};

inline std::optional<chr::nanoseconds> parse_time_of_day(Cursor& in) {
  const auto hour = in.digits(2);
  if (!hour || *hour > 23 || !in.one_of(":")) {
    return std::nullopt;
  }
  const auto minute = in.digits(2);
  if (!minute || *minute > 59 || !in.one_of(":")) {
    return std::nullopt;
  }
  const auto second = in.digits(2);
  if (!second || *second > 59) {
    return std::nullopt;
  }
  chr::nanoseconds time = chr::hours(*hour) + chr::minutes(*minute) + chr::seconds(*second);
  if (in.one_of(".")) {
    std::int64_t fraction = 0;
    int count = 0;
    while (const auto digit = in.digits(1)) {
      if (count < 9) {
        fraction = fraction * 10 + *digit;
        ++count;
      }
    }
    if (count == 0) {
      return std::nullopt;
    }
    for (int i = count; i < 9; ++i) {
      fraction *= 10;
    }
    time += chr::nanoseconds(fraction);
  }
  return time;
}

inline std::optional<chr::minutes> parse_offset(Cursor& in) {
  if (in.one_of("Zz")) {
    return chr::minutes(0);
  }
  const char sign = in.one_of("+-");
  if (sign == '\0') {
    return std::nullopt;
  }
  const auto hours = in.digits(2);
  if (!hours || *hours > 23 || !in.one_of(":")) {
    return std::nullopt;
  }
  const auto minutes = in.digits(2);
  if (!minutes || *minutes > 59) {
    return std::nullopt;
  }
  const chr::minutes offset = chr::hours(*hours) + chr::minutes(*minutes);
  return sign == '-' ? -offset : offset;
}

inline std::optional<CivilTime> parse_civil(std::string_view text) {
  Cursor in(text);
  const auto year = in.digits(4);
  if (!year || !in.one_of("-")) {
    return std::nullopt;
  }
  const auto month = in.digits(2);
  if (!month || !in.one_of("-")) {
    return std::nullopt;
  }
  const auto day = in.digits(2);
  if (!day) {
    return std::nullopt;
  }
  CivilTime civil;
  civil.date = chr::year_month_day(chr::year(*year), chr::month(static_cast<unsigned>(*month)),
                                   chr::day(static_cast<unsigned>(*day)));
  if (!civil.date.ok()) {
    return std::nullopt;
  }
  if (in.one_of("Tt ")) {
    const auto time = parse_time_of_day(in);
    if (!time) {
      return std::nullopt;
    }
    civil.time_of_day = *time;
    civil.has_time = true;
  }
  if (!in.done()) {
    civil.offset = parse_offset(in);
    if (!civil.offset || !in.done()) {
      return std::nullopt;
    }
  }
  return civil;
}

inline chr::system_clock::time_point to_utc(const CivilTime& civil, chr::minutes offset) {
  return chr::system_clock::time_point(chr::sys_days(civil.date)) + civil.time_of_day - offset;
}

// A civil time without offset is local time, as Go's time.ParseInLocation(..., time.Local).
inline std::optional<chr::system_clock::time_point> local_to_utc(const CivilTime& civil) {
  const chr::hh_mm_ss<chr::nanoseconds> hms(civil.time_of_day);
  std::tm tm{};
  tm.tm_year = static_cast<int>(civil.date.year()) - 1900;
  tm.tm_mon = static_cast<int>(static_cast<unsigned>(civil.date.month())) - 1;
  tm.tm_mday = static_cast<int>(static_cast<unsigned>(civil.date.day()));
  tm.tm_hour = static_cast<int>(hms.hours().count());
  tm.tm_min = static_cast<int>(hms.minutes().count());
  tm.tm_sec = static_cast<int>(hms.seconds().count());
  tm.tm_isdst = -1;
  const std::time_t seconds = std::mktime(&tm);
  if (seconds == static_cast<std::time_t>(-1)) {
    return std::nullopt;
  }
  return chr::system_clock::from_time_t(seconds) + hms.subseconds();
}

inline std::optional<chr::nanoseconds> duration_unit(std::string_view unit) {
  if (unit == "ns") {
    return chr::nanoseconds(1);
  }
  if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") {
    return chr::microseconds(1);
  }
  if (unit == "ms") {
    return chr::milliseconds(1);
  }
  if (unit == "s") {
    return chr::seconds(1);
  }
  if (unit == "m") {
    return chr::minutes(1);
  }
  if (unit == "h") {
    return chr::hours(1);
  }
  return std::nullopt;
}

inline std::optional<chr::nanoseconds> try_parse_duration(std::string_view text) {
  if (text == "0") {
    return chr::nanoseconds(0);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  chr::nanoseconds total{0};
  while (!text.empty()) {
    const DecimalPrefix number = split_decimal(text);
    if (!number.valid) {
      return std::nullopt;
    }
    const auto unit_end = number.rest.find_first_of("0123456789.");
    const std::string_view unit_name = number.rest.substr(0, unit_end);
    const auto unit = duration_unit(unit_name);
    if (!unit) {
      return std::nullopt;
    }
    const auto part = scale_decimal(number, unit->count());
    if (!part || *part > chr::nanoseconds::max().count() - total.count()) {
      return std::nullopt;
    }
    total += chr::nanoseconds(*part);
    text = number.rest.substr(unit_name.size());
  }
  return total;
}

// "1700000000" or "1700000000.000000001": seconds since the epoch.
inline std::optional<chr::system_clock::time_point> parse_unix_time(std::string_view text) {
  const DecimalPrefix number = split_decimal(text);
  if (!number.valid || !number.rest.empty() || number.whole.empty()) {
    return std::nullopt;
  }
  const auto nanoseconds = scale_decimal(number, 1'000'000'000);
  if (!nanoseconds) {
    return std::nullopt;
  }
  return chr::system_clock::time_point(chr::nanoseconds(*nanoseconds));
}

}  // namespace detail

inline std::string format_rfc3339_nano(std::chrono::system_clock::time_point time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date(day);
  const std::chrono::hh_mm_ss hms(std::chrono::floor<std::chrono::nanoseconds>(time - day));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

inline std::chrono::system_clock::time_point parse_rfc3339(std::string_view text) {
  const auto civil = detail::parse_civil(text);
  if (!civil || !civil->has_time || !civil->offset) {
    throw_invalid("invalid RFC 3339 time \"{}\": expected e.g. 2026-01-02T03:04:05Z", text);
  }
  return detail::to_utc(*civil, *civil->offset);
}

inline std::chrono::nanoseconds parse_duration(std::string_view text) {
  if (const auto duration = detail::try_parse_duration(text)) {
    return *duration;
  }
  throw_invalid("invalid duration \"{}\": expected e.g. 42s, 10m, 1h30m", text);
}

inline std::chrono::system_clock::time_point parse_since(
    std::string_view text, std::chrono::system_clock::time_point now) {
  if (const auto unix_time = detail::parse_unix_time(text)) {
    return *unix_time;
  }
  if (const auto duration = detail::try_parse_duration(text)) {
    return now - std::chrono::duration_cast<std::chrono::system_clock::duration>(*duration);
  }
  if (const auto civil = detail::parse_civil(text)) {
    if (civil->offset) {
      return detail::to_utc(*civil, *civil->offset);
    }
    if (const auto local = detail::local_to_utc(*civil)) {
      return *local;
    }
  }
  throw_invalid(
      "invalid time \"{}\": expected a duration (10m, 1h30m), a Unix timestamp or an RFC 3339 "
      "time",
      text);
}

}  // namespace gctool
