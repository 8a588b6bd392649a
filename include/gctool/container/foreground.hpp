// A foreground container session (`gctool run` without -d): on the io_uring loop, relay the pty
// with -t, forward the signals sent to gctool to the container's pid 1, and wait for its exit.
#pragma once

#include <initializer_list>

#include "gctool/container/runtime.hpp"

namespace gctool::container {

// The signals `gctool run` forwards to the container (SIGWINCH resizes its pty instead).
inline constexpr std::initializer_list<int> kForwardedSignals = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                                                 SIGUSR1, SIGUSR2, SIGWINCH};

// Runs until the started container's pid 1 exits, then records the exit and returns Docker's exit
// code. `signals` must be a signalfd-backed io::SignalSet over kForwardedSignals, created before
// the container so that no signal is lost or kills gctool. With a tty, the console is relayed to
// fds 0/1 (stdin only when forward_stdin) and the caller's terminal is raw while it runs.
int run_foreground(Container& container, BorrowedFd signal_fd, bool forward_stdin);

}  // namespace gctool::container
