// A process's resource limits from /proc/PID/limits: readable for any process, where prlimit(2) on
// a process of another user needs CAP_SYS_RESOURCE.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <string_view>
#include <vector>

namespace gctool {

// Parses the text of a /proc/PID/limits file: one rlimit per line after the header, in the
// kernel's order, which is the order of the RLIMIT_* numbers. Throws an invalid-input Error when
// the text is not such a table.
std::vector<rlimit> parse_proc_limits(std::string_view text);

// The limits of pid, indexed by RLIMIT_* number.
std::vector<rlimit> read_proc_limits(pid_t pid);

}  // namespace gctool
