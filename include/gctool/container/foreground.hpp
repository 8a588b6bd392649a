// A foreground container session (`gctool run` without -d): on the io_uring loop, relay the pty
// with -t, forward the signals sent to gctool to the container's pid 1, and wait for its exit.
#pragma once

#include <signal.h>

#include <initializer_list>

#include "gctool/container/runtime.hpp"

namespace gctool::container {

// The signals `gctool run` forwards to the container (SIGWINCH resizes its pty instead).
inline constexpr std::initializer_list<int> kForwardedSignals = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                                                 SIGUSR1, SIGUSR2, SIGWINCH};

// The session of one process of a container (pid 1 for run, an exec'd process for exec): until it
// exits, forward the signals read from `signal_fd` to it through its pidfd and, with a console
// (a pty master), relay the console to fd 1 and, when forward_stdin, fd 0 to the console with the
// caller's terminal raw meanwhile. Reaps the process and returns how it ended.
siginfo_t run_session(BorrowedFd pidfd, BorrowedFd console, BorrowedFd signal_fd,
                      bool forward_stdin);

// Runs until the started container's pid 1 exits, then records the exit and returns Docker's exit
// code. `signals` must be a signalfd-backed io::SignalSet over kForwardedSignals, created before
// the container so that no signal is lost or kills gctool. With a tty, the console is relayed to
// fds 0/1 (stdin only when forward_stdin) and the caller's terminal is raw while it runs.
int run_foreground(Container& container, BorrowedFd signal_fd, bool forward_stdin);

}  // namespace gctool::container
