// Process identity from /proc: a pid alone can be reused, a pid with its start time cannot, so
// state records both and liveness checks compare both.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/format.hpp"

namespace gctool {

// The fields of /proc/PID/stat that gctool uses.
struct ProcStat {
  char state = '?';              // field 3: R, S, D, Z, T, ...
  pid_t ppid = 0;                // field 4
  std::uint64_t start_time = 0;  // field 22: clock ticks since boot
};

// Parses the text of a /proc/PID/stat file. comm (field 2) may hold spaces and ')', so fields are
// counted from the last ')'. Throws an invalid-input Error when the text is not such a line.
ProcStat parse_proc_stat(std::string_view text);

// /proc/PID/stat of a process, or nullopt when there is no such process. proc_root lets tests and
// callers in another pid namespace point elsewhere.
std::optional<ProcStat> read_proc_stat(pid_t pid, const std::filesystem::path& proc_root);
std::optional<ProcStat> read_proc_stat(pid_t pid);  // under /proc

// Field 22 of /proc/PID/stat; nullopt when the process does not exist.
std::optional<std::uint64_t> process_start_time(pid_t pid);

// Whether pid is a live process (not a zombie) that started at start_time: false for a pid that
// the kernel has since given to another process.
bool process_matches(pid_t pid, std::uint64_t start_time);

// The definitions of proc: header-only, as all of gctool::core.
namespace detail {

template <typename T>
inline T parse_field(std::string_view field, std::string_view text, int number) {
  T value{};
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc{} || end != field.data() + field.size()) {
    throw_invalid("malformed /proc stat line: field {} is \"{}\" in \"{}\"", number, field, text);
  }
  return value;
}

}  // namespace detail

inline ProcStat parse_proc_stat(std::string_view text) {
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
      stat.ppid = detail::parse_field<pid_t>(field, text, number);
    } else if (number == 22) {
      stat.start_time = detail::parse_field<std::uint64_t>(field, text, number);
    }
  }
  return stat;
}

namespace detail {

// The path is put together as text: building a std::filesystem::path for each of the thousand
// processes `ps` checks cost more than reading their stat files.
inline std::optional<ProcStat> read_proc_stat_under(pid_t pid, std::string_view proc_root) {
  if (pid <= 0) {
    return std::nullopt;
  }
  const std::string path = fmt::format("{}/{}/stat", proc_root, pid);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw_errno("open {}", path);
  }
  // procfs hands the whole line to one read that has room for it (as procps reads it).
  char buf[4096];
  ssize_t n = 0;
  do {
    n = ::read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    // A process that exits between open and read makes the read fail with ESRCH.
    if (errno == ESRCH) {
      return std::nullopt;
    }
    throw_errno("read {}", path);
  }
  std::string text(buf, static_cast<std::size_t>(n));
  if (static_cast<std::size_t>(n) == sizeof buf) {
    text += read_to_end(fd, [&] { return path; });
  }
  return parse_proc_stat(text);
}

}  // namespace detail

inline std::optional<ProcStat> read_proc_stat(pid_t pid, const std::filesystem::path& proc_root) {
  return detail::read_proc_stat_under(pid, proc_root.native());
}

inline std::optional<ProcStat> read_proc_stat(pid_t pid) {
  return detail::read_proc_stat_under(pid, "/proc");
}

inline std::optional<std::uint64_t> process_start_time(pid_t pid) {
  if (const auto stat = read_proc_stat(pid)) {
    return stat->start_time;
  }
  return std::nullopt;
}

inline bool process_matches(pid_t pid, std::uint64_t start_time) {
  const auto stat = read_proc_stat(pid);
  // A zombie has exited; only its parent's wait is missing.
  return stat && stat->state != 'Z' && stat->state != 'X' && stat->start_time == start_time;
}

}  // namespace gctool
