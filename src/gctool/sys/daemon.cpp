#include "gctool/sys/daemon.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "gctool/core/error.hpp"

namespace gctool::sys {
namespace {

// In the children an exception must not unwind into the caller's frames: exit instead.
[[noreturn]] void die() {
  ::_exit(125);
}

void detach_stdio() {
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) {
    die();
  }
  for (int fd = 0; fd <= 2; ++fd) {
    // dup2 clears close-on-exec on the copy.
    if (::dup2(null, fd) < 0) {
      die();
    }
  }
  if (null > 2) {
    ::close(null);
  }
}

}  // namespace

bool fork_daemon() {
  const pid_t child = check(::fork(), "fork");
  if (child > 0) {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
      if (errno != EINTR) {
        throw_errno("wait for the daemon's parent {}", child);
      }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw Error(ECHILD, "fork the daemon");
    }
    return false;
  }
  // The intermediate child: a new session, then a grandchild that is not a session leader and so
  // can never acquire a controlling terminal; it is reparented to init (or a subreaper).
  if (::setsid() < 0) {
    die();
  }
  const pid_t daemon = ::fork();
  if (daemon < 0) {
    die();
  }
  if (daemon > 0) {
    ::_exit(0);
  }
  if (::chdir("/") < 0) {
    die();
  }
  detach_stdio();
  return true;
}

}  // namespace gctool::sys
