// The part of a supervisor that runs while the container runs: it streams the container's output
// into its log, waits for pid 1 to exit through the pidfd, and answers SIGTERM by stopping the
// container. The supervisor uses it in process; or, to keep its memory small, it execs the small
// gctool-supervisor program, which runs the same Monitor with what MonitorArgs carries and then
// execs the exit command (gctool itself) to record the exit, restart or clean up.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "gctool/container/attach.hpp"
#include "gctool/container/health.hpp"
#include "gctool/container/log_options.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/signals.hpp"
#include "gctool/io/task.hpp"
#include "gctool/net/port_proxy.hpp"

namespace gctool::container {

// SIGTERM, SIGINT and SIGHUP stop the container; SIGPIPE is only blocked, so that writing to a
// reader that has gone fails with EPIPE instead of killing the supervisor.
inline constexpr std::initializer_list<int> kSupervisorSignals = {SIGTERM, SIGINT, SIGHUP, SIGPIPE};

// How long a stop waits after the stop signal before it kills the container, as `docker stop`.
inline constexpr std::chrono::seconds kSupervisorStopTimeout{10};

class Monitor {
 public:
  // stop_signal is sent to pid 1 on SIGTERM (or SIGINT, SIGHUP) to this process.
  Monitor(LogWriter& writer, io::SignalSet& signals, int stop_signal);

  // Starts answering signals; call once, before the first run().
  void watch_signals(io::Loop& loop);

  // Health checks to run while pid 1 runs (settings.command empty: none): from each run()'s
  // start, every interval, a process of settings.command whose output and exit are the result
  // (see container/health.hpp), bounded by the timeout; the state goes to settings.state_file.
  void set_health(HealthSettings settings) { health_ = std::move(settings); }

  // One life of pid 1: streams out and err (pipes, either may be invalid) and console (a pty
  // master, logged as stdout) into the log until pid 1 has exited and they are drained (at most
  // 2 s after the exit), and returns its exit as reaped from pidfd. With attach_listener (see
  // container/attach.hpp) clients may attach meanwhile; stdin_pipe is the write end of the
  // container's stdin without a tty (-i), written by them. The proxies (net/port_proxy.hpp) serve
  // the container's ports on [::1] until pid 1 exits.
  io::Task<siginfo_t> run(io::Loop& loop, BorrowedFd pidfd, UniqueFd out, UniqueFd err,
                          UniqueFd console, UniqueFd attach_listener = UniqueFd(),
                          UniqueFd stdin_pipe = UniqueFd(),
                          std::vector<net::ProxyListener> proxies = {});

  // Whether a signal asked this process to stop the container.
  bool stopping() const noexcept { return stopping_; }

 private:
  io::Task<void> stream(io::Loop& loop, UniqueFd pipe, LogStream which,
                        std::shared_ptr<AttachServer> attach);
  io::Task<void> signal_loop(io::Loop& loop);
  io::Task<void> kill_after(io::Loop& loop, std::chrono::milliseconds timeout);
  io::Task<void> health_loop(io::Loop& loop);
  io::Task<HealthResult> probe(io::Loop& loop);
  void save_health(const HealthState& state) const noexcept;
  // Clears health_running_ however health_loop ends (it ends cancelled).
  struct HealthLoopEnd {
    bool& running;
    ~HealthLoopEnd() { running = false; }
  };

  LogWriter& writer_;
  io::SignalSet& signals_;
  int stop_signal_;
  BorrowedFd pidfd_;
  int streams_open_ = 0;
  bool running_ = false;
  bool stopping_ = false;
  HealthSettings health_;
  bool health_running_ = false;
};

// What the supervisor hands to gctool-supervisor on its command line: inherited descriptors, the
// log, the stop signal and the command to exec once pid 1 has exited. That command gets three
// more arguments: si_code and si_status of the exit, and 1 when a signal asked to stop, else 0.
struct MonitorArgs {
  int pidfd = -1;
  int out = -1;  // -1: none
  int err = -1;
  int console = -1;
  int attach = -1;  // the listening attach socket
  int stdin_pipe = -1;
  std::vector<std::string> proxies;  // net::to_argument of each [::1] proxy listener
  std::string log_path;
  LogOptions log;
  int stop_signal = SIGTERM;
  HealthSettings health;  // its command empty: no health checks
  std::vector<std::string> exit_command;

  std::vector<std::string> to_argv(const std::string& program) const;
  // Throws an invalid-input Error naming what is wrong.
  static MonitorArgs parse(int argc, const char* const* argv);
};

}  // namespace gctool::container
