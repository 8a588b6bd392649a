#include "gctool/sys/clone.hpp"

#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gctool/core/error.hpp"

namespace gctool::sys {

std::optional<ClonedChild> clone_with_pidfd(std::uint64_t flags, BorrowedFd cgroup) {
  int pidfd = -1;
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
  // clone3 refuses an exit signal with CLONE_PARENT: the child inherits the caller's.
  args.exit_signal = (flags & CLONE_PARENT) != 0 ? 0 : SIGCHLD;
  if (cgroup.valid()) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(cgroup.get());
  }
  const long rc = ::syscall(SYS_clone3, &args, sizeof args);
  if (rc < 0) {
    throw_errno("clone3 (flags {:#x})", static_cast<std::uint64_t>(args.flags));
  }
  if (rc == 0) {
    return std::nullopt;
  }
  return ClonedChild{static_cast<pid_t>(rc), UniqueFd(pidfd)};
}

}  // namespace gctool::sys
