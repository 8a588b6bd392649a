#include "gctool/core/proc_limits.hpp"

#include <charconv>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool {
namespace {

// "%-25s %-20s %-20s %-10s": the values start after the name's column.
constexpr std::size_t kValuesColumn = 26;

rlim_t parse_limit(std::string_view word, std::string_view line) {
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
std::string_view next_word(std::string_view& text) {
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

}  // namespace

std::vector<rlimit> parse_proc_limits(std::string_view text) {
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
    if (line.size() <= kValuesColumn || !line.starts_with("Max ")) {
      throw_invalid("malformed /proc limits line \"{}\"", line);
    }
    std::string_view values = line.substr(kValuesColumn);
    const auto soft = next_word(values);
    const auto hard = next_word(values);
    limits.push_back(rlimit{parse_limit(soft, line), parse_limit(hard, line)});
  }
  if (limits.size() < RLIM_NLIMITS) {
    throw_invalid("/proc limits lists {} limits, not {}", limits.size(), RLIM_NLIMITS);
  }
  return limits;
}

std::vector<rlimit> read_proc_limits(pid_t pid) {
  return parse_proc_limits(read_file(fmt::format("/proc/{}/limits", pid)));
}

}  // namespace gctool
