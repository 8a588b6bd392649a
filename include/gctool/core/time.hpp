// Timestamps as Docker prints and accepts them: RFC 3339 with nanoseconds in state and logs, and
// the --since/--until forms of `docker logs`.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

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

}  // namespace gctool
