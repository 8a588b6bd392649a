#include "gctool/net/netns.hpp"

#include <fcntl.h>
#include <sched.h>

#include <cstdlib>

#include "gctool/core/error.hpp"

namespace gctool::net {

UniqueFd open_netns(pid_t pid) {
  const auto path = fmt::format("/proc/{}/ns/net", pid);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open network namespace of pid {} ({})", pid, path);
  }
  return fd;
}

UniqueFd open_current_netns() {
  UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open the current network namespace (/proc/thread-self/ns/net)");
  }
  return fd;
}

NetNsGuard::NetNsGuard(BorrowedFd target) : original_(open_current_netns()) {
  if (::setns(target.get(), CLONE_NEWNET) != 0) {
    throw_errno("enter network namespace (fd {})", target.get());
  }
}

NetNsGuard::~NetNsGuard() {
  if (::setns(original_.get(), CLONE_NEWNET) != 0) {
    std::abort();
  }
}

}  // namespace gctool::net
