// A foreground container session (`gctool run` without -d): on the io_uring loop, relay the pty
// with -t, forward the signals sent to gctool to the container's pid 1, and wait for its exit.
#pragma once

#include <signal.h>

#include <initializer_list>

#include "gctool/container/log_options.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/pipe.hpp"

namespace gctool::container {

// The signals `gctool run` forwards to the container (SIGWINCH resizes its pty instead).
inline constexpr std::initializer_list<int> kForwardedSignals = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                                                 SIGUSR1, SIGUSR2, SIGWINCH};

// Where a foreground container's output goes: its stdout and stderr are pipes that the session
// copies, chunk by chunk, to this process's fd 1 or 2 first and then into the container's log, so
// that `logs` shows a foreground container's output as it does a detached one's and the
// terminal never waits for the log. With a tty the console carries both, logged as stdout.
class ForegroundOutput {
 public:
  // Opens the log of the created container (in its directory, with the log options of `run`).
  ForegroundOutput(const ContainerStore& store, const Container& container,
                   const LogOptions& options);

  // Container::start with the container's fds 1 and 2 on the pipes (this process's own are
  // restored before it returns or throws).
  void start(Container& container, BorrowedFd stdin_fd);

  // run -a: which of the container's streams reach this process's fds 1 and 2 (both by
  // default; with a tty, stdout carries both). The log gets both either way.
  void attach_only(bool out, bool err) noexcept {
    show_out_ = out;
    show_err_ = err;
  }
  bool shows_out() const noexcept { return show_out_; }
  bool shows_err() const noexcept { return show_err_; }

  LogWriter& log() noexcept { return log_; }
  // The pipes' read ends, valid after start() without a tty.
  UniqueFd take_out() noexcept { return std::move(out_.read); }
  UniqueFd take_err() noexcept { return std::move(err_.read); }
  // The relays of the pipes still running (the session's count).
  int& relaying() noexcept { return relaying_; }

 private:
  LogWriter log_;
  int relaying_ = 0;
  bool show_out_ = true;
  bool show_err_ = true;
  Pipe out_;
  Pipe err_;
};

// The session of one process of a container (pid 1 for run, an exec'd process for exec): until it
// exits, forward the signals read from `signal_fd` to it through its pidfd and, with a console
// (a pty master), relay the console to fd 1 and, when forward_stdin, fd 0 to the console with the
// caller's terminal raw meanwhile. Reaps the process and returns how it ended.
// With `output`, its pipes are relayed to fds 1 and 2 and everything is copied into its log, and
// the session ends once pid 1 has exited and the pipes are drained.
siginfo_t run_session(BorrowedFd pidfd, BorrowedFd console, BorrowedFd signal_fd,
                      bool forward_stdin, ForegroundOutput* output = nullptr);

// Runs until the started container's pid 1 exits, then records the exit and returns Docker's exit
// code. `signals` must be a signalfd-backed io::SignalSet over kForwardedSignals, created before
// the container so that no signal is lost or kills gctool. With a tty, the console is relayed to
// fds 0/1 (stdin only when forward_stdin) and the caller's terminal is raw while it runs.
// The container was started with output.start().
int run_foreground(Container& container, BorrowedFd signal_fd, bool forward_stdin,
                   ForegroundOutput& output);

}  // namespace gctool::container
