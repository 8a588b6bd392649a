// gctool-supervisor: the small program a detached container's supervisor execs once the container
// has started, so that what stays in memory while the container runs is this program (static,
// linked with the log writer and the io_uring loop only), not the whole gctool with its libraries
// and heap. It streams the container's output into its log and waits for pid 1 to exit (see
// container/monitor.hpp), then execs the exit command, which records the exit, restarts the
// container or cleans up. Not meant to be run by hand.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <exception>
#include <string>
#include <vector>

#include "gctool/container/monitor.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/net/port_proxy.hpp"
#include "gctool/sys/pidfd.hpp"

namespace {

using gctool::BorrowedFd;
using gctool::UniqueFd;
using namespace gctool::container;

// Small: this loop waits on a pidfd, a signalfd, up to three pipes, the attach socket and
// its clients and the [::1] port proxy's sockets (more are queued when the ring is full).
constexpr unsigned kRingEntries = 8;

// The inherited descriptors become close-on-exec again, so that the exit command gets none.
void close_on_exec(const MonitorArgs& args,
                   const std::vector<gctool::net::ProxyListener>& proxies) {
  for (const int fd :
       {args.pidfd, args.out, args.err, args.console, args.attach, args.stdin_pipe}) {
    if (fd >= 0) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  for (const auto& proxy : proxies) {
    ::fcntl(proxy.listener.get(), F_SETFD, FD_CLOEXEC);
  }
}

struct Outcome {
  siginfo_t info{};
  bool stopping = false;
};

Outcome supervise(const MonitorArgs& args, std::vector<gctool::net::ProxyListener> proxies) {
  Outcome outcome;
  UniqueFd out(args.out);
  UniqueFd err(args.err);
  UniqueFd console(args.console);
  UniqueFd attach(args.attach);
  UniqueFd stdin_pipe(args.stdin_pipe);
  const BorrowedFd pidfd(args.pidfd);
  try {
    // The signals are blocked already (inherited): one sent before this point is pending.
    gctool::io::SignalSet signals(kSupervisorSignals);
    LogWriter writer(args.log_path, args.log);
    gctool::io::LoopOptions options;
    options.entries = kRingEntries;
    gctool::io::Loop loop(options);
    Monitor monitor(writer, signals, args.stop_signal);
    monitor.set_health(args.health);
    monitor.watch_signals(loop);
    outcome.info = gctool::io::sync_wait(
        loop, monitor.run(loop, pidfd, std::move(out), std::move(err), std::move(console),
                          std::move(attach), std::move(stdin_pipe), std::move(proxies)));
    outcome.stopping = monitor.stopping();
    return outcome;
  } catch (const std::exception&) {
    // No log or no loop: the output is lost (the container sees EPIPE), the exit still counts.
  }
  out.reset();
  err.reset();
  console.reset();
  attach.reset();
  stdin_pipe.reset();
  outcome.info = gctool::sys::pidfd_wait(pidfd);
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  ::prctl(PR_SET_NAME, "gctool-sup", 0, 0, 0);
  MonitorArgs args;
  std::vector<gctool::net::ProxyListener> proxies;
  try {
    args = MonitorArgs::parse(argc, argv);
    for (const auto& proxy : args.proxies) {
      proxies.push_back(gctool::net::parse_proxy_argument(proxy));
    }
  } catch (const std::exception&) {
    return 125;
  }
  close_on_exec(args, proxies);
  Outcome outcome;
  try {
    outcome = supervise(args, std::move(proxies));
  } catch (const std::exception&) {
    return 1;
  }
  std::vector<std::string> words = args.exit_command;
  words.push_back(std::to_string(outcome.info.si_code));
  words.push_back(std::to_string(outcome.info.si_status));
  words.push_back(outcome.stopping ? "1" : "0");
  std::vector<char*> exec_argv;
  for (auto& word : words) {
    exec_argv.push_back(word.data());
  }
  exec_argv.push_back(nullptr);
  ::execv(exec_argv[0], exec_argv.data());
  return 1;
}
