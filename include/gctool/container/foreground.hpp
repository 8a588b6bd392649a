// What a foreground container (`gctool run` without -d, `start -a`) needs besides the session
// that api::attach (container/api.hpp) runs: the signals it forwards, and its output pipes copied
// to the terminal and into its log.
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

  // Container::start with the container's fds 1 and 2 on the pipes (see start_with_output).
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

// Container::start with `out` and `err` as the container's fds 1 and 2 instead of this process's:
// they are this process's own while it starts (the init inherits them) and restored before it
// returns or throws. With a tty the console carries both, and out and err are not used.
void start_with_output(Container& container, BorrowedFd stdin_fd, BorrowedFd out, BorrowedFd err);

}  // namespace gctool::container
