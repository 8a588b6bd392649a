// Network namespaces: open one, and enter it for a scope. setns applies to the calling thread
// only; NetNsGuard returns that thread to its original namespace on every path. No co_await while
// a guard is alive (the coroutine could resume elsewhere or let other work run in the namespace).
#pragma once

#include <sys/types.h>

#include "gctool/core/fd.hpp"

namespace gctool::net {

// The network namespace of a process (/proc/PID/ns/net).
UniqueFd open_netns(pid_t pid);

// The calling thread's network namespace.
UniqueFd open_current_netns();

class NetNsGuard {
 public:
  // Enters target; throws Error when it cannot (the thread is then unchanged).
  explicit NetNsGuard(BorrowedFd target);
  NetNsGuard(const NetNsGuard&) = delete;
  NetNsGuard& operator=(const NetNsGuard&) = delete;
  // Returns to the original namespace. A failure there would leave the thread in the wrong
  // namespace for everything that follows, so it aborts.
  ~NetNsGuard();

 private:
  UniqueFd original_;
};

}  // namespace gctool::net
