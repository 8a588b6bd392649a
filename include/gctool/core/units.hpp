// The units of the CLI, parsed and printed the way Docker does: memory sizes ("64m"), CPU counts
// ("0.5"), CPU lists ("0-1,3"), signals ("TERM", "9"), human sizes and ages for `ps` and `images`.
#pragma once

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/core/decimal.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"

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

// The definitions: header-only, as all of gctool::core.
namespace detail {

// Far above any kernel's NR_CPUS, low enough that "0-99999999" cannot exhaust memory.
inline constexpr int max_cpu = 65535;

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::int64_t binary_unit(char unit) {
  switch (lower(unit)) {
    case 'k':
      return std::int64_t{1} << 10;
    case 'm':
      return std::int64_t{1} << 20;
    case 'g':
      return std::int64_t{1} << 30;
    case 't':
      return std::int64_t{1} << 40;
    case 'p':
      return std::int64_t{1} << 50;
    default:
      return 0;
  }
}

}  // namespace detail

inline std::int64_t parse_memory_size(std::string_view text) {
  if (text.starts_with('-')) {
    throw_invalid("invalid memory size \"{}\": must not be negative", text);
  }
  const DecimalPrefix number = split_decimal(text);
  if (!number.valid) {
    throw_invalid("invalid memory size \"{}\"", text);
  }
  std::string_view rest = number.rest;
  if (rest.starts_with(' ')) {
    rest.remove_prefix(1);
  }
  std::int64_t scale = 1;
  if (!rest.empty() && detail::binary_unit(rest.front()) != 0) {
    scale = detail::binary_unit(rest.front());
    rest.remove_prefix(1);
    if (!rest.empty() && detail::lower(rest.front()) == 'i') {
      rest.remove_prefix(1);
    }
  }
  if (!rest.empty() && detail::lower(rest.front()) == 'b') {
    rest.remove_prefix(1);
  }
  if (!rest.empty()) {
    throw_invalid("invalid memory size \"{}\"", text);
  }
  const std::optional<std::int64_t> bytes = scale_decimal(number, scale);
  if (!bytes) {
    throw_invalid("invalid memory size \"{}\": too large", text);
  }
  return *bytes;
}

inline std::int64_t parse_cpus(std::string_view text) {
  if (text.starts_with('-')) {
    throw_invalid("invalid --cpus value \"{}\": must be greater than 0", text);
  }
  DecimalPrefix number = split_decimal(text);
  if (!number.valid || !number.rest.empty()) {
    throw_invalid("invalid --cpus value \"{}\": not a decimal number", text);
  }
  while (number.fraction.ends_with('0')) {
    number.fraction.remove_suffix(1);
  }
  if (number.fraction.size() > 9) {
    throw_invalid("invalid --cpus value \"{}\": more precise than a billionth of a CPU", text);
  }
  const std::optional<std::int64_t> nano = scale_decimal(number, 1'000'000'000);
  if (!nano) {
    throw_invalid("invalid --cpus value \"{}\": too large", text);
  }
  if (*nano == 0) {
    throw_invalid("invalid --cpus value \"{}\": must be greater than 0", text);
  }
  return *nano;
}

inline std::vector<int> parse_cpu_list(std::string_view text) {
  const auto parse_cpu = [text](std::string_view number) {
    if (number.empty() || !std::all_of(number.begin(), number.end(), detail::is_digit)) {
      throw_invalid("invalid CPU list \"{}\": \"{}\" is not a CPU number", text, number);
    }
    int cpu = 0;
    for (const char c : number) {
      cpu = cpu * 10 + (c - '0');
      if (cpu > detail::max_cpu) {
        throw_invalid("invalid CPU list \"{}\": CPU {} is above {}", text, number, detail::max_cpu);
      }
    }
    return cpu;
  };

  std::vector<int> cpus;
  std::string_view rest = trim(text);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (comma != std::string_view::npos && rest.empty()) {
      throw_invalid("invalid CPU list \"{}\": trailing comma", text);
    }
    const auto dash = item.find('-');
    const int first = parse_cpu(item.substr(0, dash));
    const int last = dash == std::string_view::npos ? first : parse_cpu(item.substr(dash + 1));
    if (last < first) {
      throw_invalid("invalid CPU list \"{}\": range \"{}\" is reversed", text, item);
    }
    for (int cpu = first; cpu <= last; ++cpu) {
      cpus.push_back(cpu);
    }
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

inline std::string format_cpu_list(const std::vector<int>& cpus) {
  std::vector<int> sorted = cpus;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string out;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) {
      ++j;
    }
    if (!out.empty()) {
      out += ',';
    }
    out += j == i ? fmt::format("{}", sorted[i]) : fmt::format("{}-{}", sorted[i], sorted[j]);
    i = j + 1;
  }
  return out;
}

inline std::string format_bytes(std::int64_t bytes) {
  static constexpr std::string_view units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  const bool negative = bytes < 0;
  double size = negative ? -static_cast<double>(bytes) : static_cast<double>(bytes);
  std::size_t unit = 0;
  // 999.5 would print as "1e+03" with 3 digits, so it already belongs to the next unit.
  while (size >= 999.5 && unit + 1 < std::size(units)) {
    size /= 1000;
    ++unit;
  }
  return fmt::format("{}{:.3g}{}", negative ? "-" : "", size, units[unit]);
}

inline std::string format_duration_ago(std::chrono::seconds elapsed) {
  const std::int64_t seconds = elapsed.count();
  if (seconds < 1) {
    return "Less than a second";
  }
  if (seconds == 1) {
    return "1 second";
  }
  if (seconds < 60) {
    return fmt::format("{} seconds", seconds);
  }
  const std::int64_t minutes = seconds / 60;
  if (minutes == 1) {
    return "About a minute";
  }
  if (minutes < 60) {
    return fmt::format("{} minutes", minutes);
  }
  const std::int64_t hours = (seconds + 1800) / 3600;  // to the nearest hour, as Docker
  if (hours == 1) {
    return "About an hour";
  }
  if (hours < 48) {
    return fmt::format("{} hours", hours);
  }
  if (hours < 24 * 7 * 2) {
    return fmt::format("{} days", hours / 24);
  }
  if (hours < 24 * 30 * 2) {
    return fmt::format("{} weeks", hours / 24 / 7);
  }
  if (hours < 24 * 365 * 2) {
    return fmt::format("{} months", hours / 24 / 30);
  }
  return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

// The definitions of signal_names: header-only, as all of gctool::core.
namespace detail {

struct NamedSignal {
  std::string_view name;  // without "SIG"
  int number;
};

// The first entry for a number is its canonical name; later ones are aliases.
inline constexpr NamedSignal named_signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
    {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},  {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

// The kernel's highest signal (_NSIG - 1); glibc's SIGRTMAX is the same on Linux.
inline constexpr int max_signal = 64;

inline bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// A small decimal number making up all of text; nullopt otherwise.
inline std::optional<int> small_number(std::string_view text) {
  if (text.empty() || text.size() > 3) {
    return std::nullopt;
  }
  int value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

inline std::optional<int> realtime_signal(std::string_view name) {
  // glibc reserves the first real-time signals for itself; SIGRTMIN is the first one left.
  const int rtmin = SIGRTMIN;
  const int rtmax = SIGRTMAX;
  std::optional<int> signal;
  if (iequals(name, "RTMIN")) {
    signal = rtmin;
  } else if (iequals(name, "RTMAX")) {
    signal = rtmax;
  } else if (istarts_with(name, "RTMIN+")) {
    if (const auto n = small_number(name.substr(6))) {
      signal = rtmin + *n;
    }
  } else if (istarts_with(name, "RTMAX-")) {
    if (const auto n = small_number(name.substr(6))) {
      signal = rtmax - *n;
    }
  }
  if (signal && (*signal < rtmin || *signal > rtmax)) {
    return std::nullopt;
  }
  return signal;
}

}  // namespace detail

inline int parse_signal(std::string_view text) {
  if (const auto number = detail::small_number(text)) {
    if (*number >= 1 && *number <= detail::max_signal) {
      return *number;
    }
    throw_invalid("invalid signal \"{}\"", text);
  }
  std::string_view name = text;
  if (detail::istarts_with(name, "SIG")) {
    name.remove_prefix(3);
  }
  for (const detail::NamedSignal& s : detail::named_signals) {
    if (iequals(name, s.name)) {
      return s.number;
    }
  }
  if (const auto signal = detail::realtime_signal(name)) {
    return *signal;
  }
  throw_invalid("invalid signal \"{}\"", text);
}

inline std::string signal_name(int signal) {
  for (const detail::NamedSignal& s : detail::named_signals) {
    if (s.number == signal) {
      return fmt::format("SIG{}", s.name);
    }
  }
  const int rtmin = SIGRTMIN;
  const int rtmax = SIGRTMAX;
  if (signal == rtmin) {
    return "SIGRTMIN";
  }
  if (signal == rtmax) {
    return "SIGRTMAX";
  }
  // Split as kill -l does: the lower half counts up from RTMIN, the upper half down from RTMAX.
  if (signal > rtmin && signal < rtmax) {
    if (signal - rtmin <= (rtmax - rtmin) / 2) {
      return fmt::format("SIGRTMIN+{}", signal - rtmin);
    }
    return fmt::format("SIGRTMAX-{}", rtmax - signal);
  }
  return fmt::format("{}", signal);
}

}  // namespace gctool
