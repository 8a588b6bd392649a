// CRI record formatting and parsing.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "gctool/container/log_format.hpp"

using gctool::container::kLogTimestampSize;
using gctool::container::LogStream;
using gctool::container::LogTimestampFormatter;
using gctool::container::parse_log_record;
using gctool::container::parse_log_timestamp;

namespace {

std::string format(LogTimestampFormatter& formatter, time_t seconds, long nanos) {
  std::string out(kLogTimestampSize, '?');
  formatter.format(timespec{seconds, nanos}, out.data());
  return out;
}

}  // namespace

TEST_CASE("timestamps are UTC with nine fraction digits") {
  LogTimestampFormatter formatter;
  CHECK(format(formatter, 0, 5) == "1970-01-01T00:00:00.000000005Z");
  CHECK(format(formatter, 1767323045, 123456789) == "2026-01-02T03:04:05.123456789Z");
  // Same second (cached part), then the next one.
  CHECK(format(formatter, 1767323045, 999999999) == "2026-01-02T03:04:05.999999999Z");
  CHECK(format(formatter, 1767323046, 0) == "2026-01-02T03:04:06.000000000Z");
}

TEST_CASE("timestamps parse back to the same time") {
  using namespace std::chrono;
  const auto time = parse_log_timestamp("2026-01-02T03:04:05.123456789Z");
  REQUIRE(time);
  CHECK(duration_cast<nanoseconds>(time->time_since_epoch()).count() ==
        1767323045LL * 1000000000 + 123456789);
  // Other RFC 3339 forms, as conmon writes with a local offset.
  const auto offset = parse_log_timestamp("2026-01-02T04:04:05.123456789+01:00");
  REQUIRE(offset);
  CHECK(*offset == *time);
  CHECK_FALSE(parse_log_timestamp("2026-13-02T03:04:05.123456789Z"));
  CHECK_FALSE(parse_log_timestamp("yesterday"));
}

TEST_CASE("records parse into timestamp, stream, tag and message") {
  const auto full = parse_log_record("2026-01-02T03:04:05.123456789Z stdout F hello world");
  REQUIRE(full);
  CHECK(full->timestamp == "2026-01-02T03:04:05.123456789Z");
  CHECK(full->stream == LogStream::Stdout);
  CHECK_FALSE(full->partial);
  CHECK(full->message == "hello world");

  const auto partial = parse_log_record("2026-01-02T03:04:05.123456789Z stderr P  two  spaces ");
  REQUIRE(partial);
  CHECK(partial->stream == LogStream::Stderr);
  CHECK(partial->partial);
  CHECK(partial->message == " two  spaces ");

  const auto empty = parse_log_record("2026-01-02T03:04:05.123456789Z stdout F ");
  REQUIRE(empty);
  CHECK(empty->message.empty());
  const auto tags = parse_log_record("2026-01-02T03:04:05.123456789Z stdout P:x y");
  REQUIRE(tags);
  CHECK(tags->partial);
  CHECK(tags->message == "y");

  CHECK_FALSE(parse_log_record(""));
  CHECK_FALSE(parse_log_record("2026-01-02T03:04:05.123456789Z stdin F x"));
  CHECK_FALSE(parse_log_record("2026-01-02T03:04:05.123456789Z stdout X x"));
  CHECK_FALSE(parse_log_record("2026-01-02T03:04:05.12345"));
}
