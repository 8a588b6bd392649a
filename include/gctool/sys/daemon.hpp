// Detaching a process from its caller: the double fork that gives a supervisor its own session,
// no controlling terminal and no parent to wait for it.
#pragma once

#include <sys/types.h>

namespace gctool::sys {

// Forks a daemon. In the caller it returns false once the intermediate child has exited (so no
// zombie is left); in the daemon, the grandchild, it returns true after setsid(), chdir("/") and
// with fds 0, 1 and 2 on /dev/null. Other fds are inherited: mark them close-on-exec or close
// them. The caller must be single-threaded. In the daemon nothing of the caller's stack unwinds
// on its own: end it with _exit().
bool fork_daemon();

}  // namespace gctool::sys
