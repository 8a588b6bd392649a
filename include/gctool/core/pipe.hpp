// A pipe as two owned fds.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"

namespace gctool {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// pipe2 with O_CLOEXEC on both ends.
inline Pipe make_pipe() {
  int fds[2];
  check(::pipe2(fds, O_CLOEXEC), "pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace gctool
