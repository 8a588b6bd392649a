// The units of the CLI, parsed and printed the way Docker does: memory sizes ("64m"), CPU counts
// ("0.5"), CPU lists ("0-1,3"), signals ("TERM", "9"), human sizes and ages for `ps` and `images`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gctool {

// Bytes from "1048576", "2b", "512k", "64m", "64mb", "1g", "1.5G", "2TiB" (binary units, case
// insensitive, an optional space before the unit). Throws an invalid-input Error such as
// `invalid memory size "abc"` for garbage, a negative value or one beyond int64.
std::int64_t parse_memory_size(std::string_view text);

// Nano-CPUs as Docker's --cpus: "0.5" -> 500000000, "2" -> 2000000000. Throws
// `invalid --cpus value "x": <reason>` for garbage, zero, negative, more than 9 decimals, overflow.
std::int64_t parse_cpus(std::string_view text);

// The CPUs of a cpuset list such as "0-1,3" (also the format of cpuset.cpus and
// /sys/devices/system/cpu/online): sorted, duplicates merged. Surrounding whitespace is ignored and
// an empty list gives an empty vector. Throws on syntax errors, negative numbers, reversed ranges.
std::vector<int> parse_cpu_list(std::string_view text);

// The inverse of parse_cpu_list, with consecutive CPUs folded into ranges: {0,1,2,5} -> "0-2,5".
std::string format_cpu_list(const std::vector<int>& cpus);

// A signal number from "TERM", "SIGTERM", "sigkill", "9", "RTMIN+3", "SIGRTMAX-1". Throws
// `invalid signal "FOO"`; 0 is rejected as it is no signal.
int parse_signal(std::string_view text);

// "SIGTERM", "SIGRTMIN+3"; the decimal number for a signal without a name, so that parse_signal
// always accepts the result.
std::string signal_name(int signal);

// Docker's human size: base 1000, 3 significant digits: 0 -> "0B", 1500000 -> "1.5MB",
// 123456789 -> "123MB".
std::string format_bytes(std::int64_t bytes);

// Docker's human duration, for "Up 5 seconds" and "Exited (0) 3 hours ago": "Less than a second",
// "1 second", "5 seconds", "About a minute", "12 minutes", "About an hour", "3 hours", "4 days",
// "2 weeks", "3 months", "2 years".
std::string format_duration_ago(std::chrono::seconds elapsed);

}  // namespace gctool
