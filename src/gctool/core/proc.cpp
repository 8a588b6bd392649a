#include "gctool/core/proc.hpp"

#include <cerrno>
#include <charconv>
#include <string>

#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool {

namespace {

template <typename T>
T parse_field(std::string_view field, std::string_view text, int number) {
  T value{};
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc{} || end != field.data() + field.size()) {
    throw_invalid("malformed /proc stat line: field {} is \"{}\" in \"{}\"", number, field, text);
  }
  return value;
}

}  // namespace

ProcStat parse_proc_stat(std::string_view text) {
  const auto close = text.rfind(')');
  if (close == std::string_view::npos) {
    throw_invalid("malformed /proc stat line \"{}\"", text);
  }
  // Field 3 onwards, separated by single spaces.
  std::string_view rest = text.substr(close + 1);
  ProcStat stat;
  int number = 2;
  while (number < 22) {
    if (!rest.starts_with(' ')) {
      throw_invalid("malformed /proc stat line \"{}\"", text);
    }
    rest.remove_prefix(1);
    const auto end = rest.find_first_of(" \n");
    const std::string_view field = rest.substr(0, end);
    rest.remove_prefix(field.size());
    ++number;
    if (number == 3) {
      if (field.size() != 1) {
        throw_invalid("malformed /proc stat line: state is \"{}\" in \"{}\"", field, text);
      }
      stat.state = field.front();
    } else if (number == 4) {
      stat.ppid = parse_field<pid_t>(field, text, number);
    } else if (number == 22) {
      stat.start_time = parse_field<std::uint64_t>(field, text, number);
    }
  }
  return stat;
}

std::optional<ProcStat> read_proc_stat(pid_t pid, const std::filesystem::path& proc_root) {
  if (pid <= 0) {
    return std::nullopt;
  }
  const std::filesystem::path path = proc_root / std::to_string(pid) / "stat";
  std::optional<std::string> text;
  try {
    text = try_read_file(path);
  } catch (const Error& e) {
    // A process that exits between open and read makes the read fail with ESRCH.
    if (e.errno_value() == ESRCH) {
      return std::nullopt;
    }
    throw;
  }
  if (!text) {
    return std::nullopt;
  }
  return parse_proc_stat(*text);
}

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  if (const auto stat = read_proc_stat(pid)) {
    return stat->start_time;
  }
  return std::nullopt;
}

bool process_matches(pid_t pid, std::uint64_t start_time) {
  const auto stat = read_proc_stat(pid);
  // A zombie has exited; only its parent's wait is missing.
  return stat && stat->state != 'Z' && stat->state != 'X' && stat->start_time == start_time;
}

}  // namespace gctool
