#include <chrono>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/time.hpp"

namespace chr = std::chrono;
using chr::system_clock;

namespace {

system_clock::time_point utc(int y, unsigned m, unsigned d, int hh, int mm, int ss,
                             std::int64_t ns = 0) {
  return system_clock::time_point(chr::sys_days(chr::year(y) / chr::month(m) / chr::day(d))) +
         chr::hours(hh) + chr::minutes(mm) + chr::seconds(ss) + chr::nanoseconds(ns);
}

}  // namespace

TEST_CASE("format_rfc3339_nano prints UTC with nine fraction digits", "[core]") {
  CHECK(gctool::format_rfc3339_nano(utc(2026, 1, 2, 3, 4, 5, 123456789)) ==
        "2026-01-02T03:04:05.123456789Z");
  CHECK(gctool::format_rfc3339_nano(utc(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000000Z");
  CHECK(gctool::format_rfc3339_nano(system_clock::time_point{}) ==
        "1970-01-01T00:00:00.000000000Z");
}

TEST_CASE("parse_rfc3339 reads back format_rfc3339_nano", "[core]") {
  const auto now = system_clock::now();
  CHECK(gctool::parse_rfc3339(gctool::format_rfc3339_nano(now)) == now);
  const auto leap_day = utc(2024, 2, 29, 23, 59, 59, 999999999);
  CHECK(gctool::parse_rfc3339(gctool::format_rfc3339_nano(leap_day)) == leap_day);
}

TEST_CASE("parse_rfc3339 accepts fractions and offsets", "[core]") {
  CHECK(gctool::parse_rfc3339("2026-01-02T03:04:05Z") == utc(2026, 1, 2, 3, 4, 5));
  CHECK(gctool::parse_rfc3339("2026-01-02t03:04:05z") == utc(2026, 1, 2, 3, 4, 5));
  CHECK(gctool::parse_rfc3339("2026-01-02T03:04:05.5Z") == utc(2026, 1, 2, 3, 4, 5, 500000000));
  CHECK(gctool::parse_rfc3339("2026-01-02T03:04:05.1234567891Z") ==
        utc(2026, 1, 2, 3, 4, 5, 123456789));
  CHECK(gctool::parse_rfc3339("2026-01-02T05:34:05+02:30") == utc(2026, 1, 2, 3, 4, 5));
  CHECK(gctool::parse_rfc3339("2026-01-01T22:04:05-05:00") == utc(2026, 1, 2, 3, 4, 5));
}

TEST_CASE("parse_rfc3339 rejects garbage and impossible times", "[core]") {
  CHECK_THROWS_WITH(gctool::parse_rfc3339("yesterday"),
                    Catch::Matchers::Contains("invalid RFC 3339 time \"yesterday\""));
  for (const char* bad :
       {"", "2026-01-02", "2026-01-02T03:04:05", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-01-02T24:00:00Z", "2026-01-02T03:60:00Z", "2026-01-02T03:04:60Z",
        "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05+0200", "2026-01-02T03:04:05Z ",
        "26-01-02T03:04:05Z", "2026-1-02T03:04:05Z"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(gctool::parse_rfc3339(bad), gctool::Error);
  }
}

TEST_CASE("parse_duration reads Go durations", "[core]") {
  CHECK(gctool::parse_duration("0") == chr::nanoseconds(0));
  CHECK(gctool::parse_duration("42s") == chr::seconds(42));
  CHECK(gctool::parse_duration("10m") == chr::minutes(10));
  CHECK(gctool::parse_duration("1h30m") == chr::minutes(90));
  CHECK(gctool::parse_duration("1.5h") == chr::minutes(90));
  CHECK(gctool::parse_duration("300ms") == chr::milliseconds(300));
  CHECK(gctool::parse_duration("2us") == chr::microseconds(2));
  CHECK(gctool::parse_duration("7ns") == chr::nanoseconds(7));
  for (const char* bad : {"", "10", "m", "10x", "-5s", "1h 30m", "1.h", "99999999999h"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(gctool::parse_duration(bad), gctool::Error);
  }
}

TEST_CASE("parse_since takes durations, timestamps and RFC 3339", "[core]") {
  const auto now = utc(2026, 1, 2, 12, 0, 0);
  CHECK(gctool::parse_since("10m", now) == utc(2026, 1, 2, 11, 50, 0));
  CHECK(gctool::parse_since("1h30m", now) == utc(2026, 1, 2, 10, 30, 0));
  CHECK(gctool::parse_since("42s", now) == utc(2026, 1, 2, 11, 59, 18));
  CHECK(gctool::parse_since("1700000000", now) ==
        system_clock::time_point(chr::seconds(1700000000)));
  CHECK(gctool::parse_since("1700000000.5", now) ==
        system_clock::time_point(chr::milliseconds(1700000000500)));
  CHECK(gctool::parse_since("2026-01-02T03:04:05Z", now) == utc(2026, 1, 2, 3, 4, 5));
  // Without an offset the time is local, which a date-time with the local offset matches.
  const auto local = gctool::parse_since("2026-01-02T03:04:05", now);
  CHECK(chr::abs(local - utc(2026, 1, 2, 3, 4, 5)) <= chr::hours(14));
  CHECK(gctool::parse_since("2026-01-02", now) <= local);
  CHECK_THROWS_WITH(gctool::parse_since("soon", now),
                    Catch::Matchers::Contains("invalid time \"soon\""));
}
