// A process's resource limits from /proc/PID/limits: readable for any process, where prlimit(2) on
// a process of another user needs CAP_SYS_RESOURCE.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <charconv>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool {

// Parses the text of a /proc/PID/limits file: one rlimit per line after the header, in the
// kernel's order, which is the order of the RLIMIT_* numbers. Throws an invalid-input Error when
// the text is not such a table.
std::vector<rlimit> parse_proc_limits(std::string_view text);

// The limits of pid, indexed by RLIMIT_* number.
std::vector<rlimit> read_proc_limits(pid_t pid);

// The definitions of proc_limits: header-only, as all of gctool::core.
namespace detail {

// "%-25s %-20s %-20s %-10s": the values start after the name's column.
inline constexpr std::size_t kValuesColumn = 26;

inline rlim_t parse_limit(std::string_view word, std::string_view line) {
  if (word == "unlimited") {
    return RLIM_INFINITY;
  }
  rlim_t value = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (ec != std::errc{} || end != word.data() + word.size()) {
    throw_invalid("malformed /proc limits line \"{}\"", line);
  }
  return value;
}

// The next space-separated word of text, removed from it; empty at the end.
inline std::string_view next_word(std::string_view& text) {
  const auto start = text.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    text = {};
    return {};
  }
  text.remove_prefix(start);
  const auto word = text.substr(0, text.find(' '));
  text.remove_prefix(word.size());
  return word;
}

}  // namespace detail

inline std::vector<rlimit> parse_proc_limits(std::string_view text) {
  std::vector<rlimit> limits;
  bool header = true;
  for (const auto line : split(text, '\n')) {
    if (line.empty()) {
      continue;
    }
    if (std::exchange(header, false)) {
      if (!line.starts_with("Limit ")) {
        throw_invalid("malformed /proc limits header \"{}\"", line);
      }
      continue;
    }
    if (line.size() <= detail::kValuesColumn || !line.starts_with("Max ")) {
      throw_invalid("malformed /proc limits line \"{}\"", line);
    }
    std::string_view values = line.substr(detail::kValuesColumn);
    const auto soft = detail::next_word(values);
    const auto hard = detail::next_word(values);
    limits.push_back(rlimit{detail::parse_limit(soft, line), detail::parse_limit(hard, line)});
  }
  if (limits.size() < RLIM_NLIMITS) {
    throw_invalid("/proc limits lists {} limits, not {}", limits.size(), RLIM_NLIMITS);
  }
  return limits;
}

inline std::vector<rlimit> read_proc_limits(pid_t pid) {
  return parse_proc_limits(read_file(fmt::format("/proc/{}/limits", pid)));
}

}  // namespace gctool
