// Process handles by pidfd: signal and wait for a process without pid-reuse races.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>

#include "gctool/core/fd.hpp"

namespace gctool::sys {

// A pidfd for pid, or nullopt when the process no longer exists (ESRCH).
std::optional<UniqueFd> try_pidfd_open(pid_t pid);

// Sends sig to the process; false when it has already exited (ESRCH).
bool pidfd_signal(BorrowedFd pidfd, int sig);

// Blocks until the child exits and reaps it (waitid P_PIDFD, WEXITED), retrying on EINTR.
siginfo_t pidfd_wait(BorrowedFd pidfd);

}  // namespace gctool::sys
