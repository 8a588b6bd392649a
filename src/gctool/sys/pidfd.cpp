#include "gctool/sys/pidfd.hpp"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "gctool/core/error.hpp"

namespace gctool::sys {

std::optional<UniqueFd> try_pidfd_open(pid_t pid) {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    if (errno == ESRCH) {
      return std::nullopt;
    }
    throw_errno("pidfd_open {}", pid);
  }
  return UniqueFd(static_cast<int>(fd));
}

bool pidfd_signal(BorrowedFd pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) < 0) {
    if (errno == ESRCH) {
      return false;
    }
    throw_errno("pidfd_send_signal {}", sig);
  }
  return true;
}

siginfo_t pidfd_wait(BorrowedFd pidfd) {
  siginfo_t info{};
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED) < 0) {
    if (errno != EINTR) {
      throw_errno("waitid on pidfd");
    }
  }
  return info;
}

}  // namespace gctool::sys
