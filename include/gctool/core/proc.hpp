// Process identity from /proc: a pid alone can be reused, a pid with its start time cannot, so
// state records both and liveness checks compare both.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

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
std::optional<ProcStat> read_proc_stat(pid_t pid, const std::filesystem::path& proc_root = "/proc");

// Field 22 of /proc/PID/stat; nullopt when the process does not exist.
std::optional<std::uint64_t> process_start_time(pid_t pid);

// Whether pid is a live process (not a zombie) that started at start_time: false for a pid that
// the kernel has since given to another process.
bool process_matches(pid_t pid, std::uint64_t start_time);

}  // namespace gctool
