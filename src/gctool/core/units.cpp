#include "gctool/core/units.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>

#include "gctool/core/decimal.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"

namespace gctool {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Far above any kernel's NR_CPUS, low enough that "0-99999999" cannot exhaust memory.
constexpr int max_cpu = 65535;

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::int64_t binary_unit(char unit) {
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

}  // namespace

std::int64_t parse_memory_size(std::string_view text) {
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
  if (!rest.empty() && binary_unit(rest.front()) != 0) {
    scale = binary_unit(rest.front());
    rest.remove_prefix(1);
    if (!rest.empty() && lower(rest.front()) == 'i') {
      rest.remove_prefix(1);
    }
  }
  if (!rest.empty() && lower(rest.front()) == 'b') {
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

std::int64_t parse_cpus(std::string_view text) {
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

std::vector<int> parse_cpu_list(std::string_view text) {
  const auto parse_cpu = [text](std::string_view number) {
    if (number.empty() || !std::all_of(number.begin(), number.end(), is_digit)) {
      throw_invalid("invalid CPU list \"{}\": \"{}\" is not a CPU number", text, number);
    }
    int cpu = 0;
    for (const char c : number) {
      cpu = cpu * 10 + (c - '0');
      if (cpu > max_cpu) {
        throw_invalid("invalid CPU list \"{}\": CPU {} is above {}", text, number, max_cpu);
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

std::string format_cpu_list(const std::vector<int>& cpus) {
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

std::string format_bytes(std::int64_t bytes) {
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

std::string format_duration_ago(std::chrono::seconds elapsed) {
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

}  // namespace gctool
