// Spawning a process into new namespaces with clone3, getting a pidfd for it at once so that the
// child can never be confused with a reused pid.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "gctool/core/fd.hpp"

namespace gctool::sys {

struct ClonedChild {
  pid_t pid = -1;
  UniqueFd pidfd;
};

// clone3 with CLONE_PIDFD and the given flags (CLONE_NEW*, CLONE_PARENT); with a valid `cgroup`
// fd the child starts inside that (v2) cgroup (CLONE_INTO_CGROUP). Like fork: returns nullopt in
// the child and the child's pid and pidfd in the parent, with SIGCHLD as the exit signal. With
// CLONE_PARENT the child is a sibling of the caller: its parent is the caller's parent, and the
// kernel gives it the caller's own exit signal. The caller must have no other threads.
std::optional<ClonedChild> clone_with_pidfd(std::uint64_t flags, BorrowedFd cgroup = BorrowedFd());

}  // namespace gctool::sys
