// The supervisor process: forked off the CLI by run_detached(), it starts the container with its
// stdout and stderr on pipes, tells the CLI the outcome, then lives on one io_uring loop until the
// container has ended for good.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>

#include "gctool/container/init.hpp"
#include "gctool/container/log_stream.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/units.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/process.hpp"
#include "gctool/io/signals.hpp"
#include "gctool/io/sleep.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/task.hpp"
#include "gctool/sys/daemon.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::container {
namespace {

using namespace std::chrono_literals;

// SIGTERM, SIGINT and SIGHUP stop the container; SIGPIPE is only blocked so that writing the
// report to a CLI that has gone away fails with EPIPE instead of killing the supervisor.
constexpr std::initializer_list<int> kSupervisorSignals = {SIGTERM, SIGINT, SIGHUP, SIGPIPE};

// How long the supervisor waits after SIGTERM before it kills the container, as `docker stop`.
constexpr auto kStopTimeout = 10s;
// How long the log streams may take to reach end of file once pid 1 has exited.
constexpr auto kDrainTimeout = 2s;

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe make_pipe() {
  int fds[2];
  check(::pipe2(fds, O_CLOEXEC), "pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void stdio_to(BorrowedFd out, BorrowedFd err) {
  check(::dup2(out.get(), 1), "dup2 stdout");
  check(::dup2(err.get(), 2), "dup2 stderr");
}

// The supervisor's own output goes nowhere, and it must not keep the pipes' write ends open.
void stdio_to_null() {
  const UniqueFd null(check(::open("/dev/null", O_WRONLY | O_CLOEXEC), "open /dev/null"));
  stdio_to(null.borrow(), null.borrow());
}

// The report to the CLI: "<exit code>\n<id or error message>", 0 meaning started.
void send_report(UniqueFd& report, int code, std::string_view text) {
  if (!report) {
    return;
  }
  try {
    write_all(report.borrow(), fmt::format("{}\n{}", code, text), "the supervisor report");
  } catch (const Error&) {
    // The CLI has gone: nobody to tell.
  }
  report.reset();
}

class Supervisor {
 public:
  Supervisor(Container& container, std::filesystem::path dir, SupervisorOptions options,
             io::SignalSet& signals)
      : container_(container),
        options_(options),
        signals_(signals),
        dir_(std::move(dir)),
        writer_(container_log_path(dir_), options.log) {}

  // Starts the container with its output on fresh pipes (Container::start hands the container
  // this process's fds 1 and 2). Stream tasks are spawned later, on the loop.
  void start() {
    out_ = make_pipe();
    err_ = make_pipe();
    stdio_to(out_.write.borrow(), err_.write.borrow());
    try {
      container_.start();
    } catch (...) {
      stdio_to_null();
      out_ = {};
      err_ = {};
      throw;
    }
    stdio_to_null();
    out_.write.reset();
    err_.write.reset();
  }

  io::Task<void> run(io::Loop& loop) {
    loop.spawn(watch_signals(loop));
    for (;;) {
      spawn_streams(loop);
      running_ = true;
      const siginfo_t info = co_await io::wait_exit(loop, container_.pidfd());
      running_ = false;
      // Let the streams write what the container printed last before the exit is visible.
      for (auto waited = 0ms; streams_open_ > 0 && waited < kDrainTimeout; waited += 10ms) {
        co_await io::sleep(loop, 10ms);
      }
      const int code = container_.record_exit(info);
      if (!should_restart(options_.restart, code, options_.restart_count, stop_requested())) {
        co_return;
      }
      const auto delay = restart_delay(options_.restart_count);
      for (auto waited = 0ms; waited < delay && !stop_requested(); waited += 50ms) {
        co_await io::sleep(loop, std::min<std::chrono::milliseconds>(50ms, delay - waited));
      }
      if (stop_requested()) {
        co_return;
      }
      ++options_.restart_count;
      container_.count_restart();
      start();
    }
  }

 private:
  bool stop_requested() const {
    return stopping_ || std::filesystem::exists(stop_request_path(dir_));
  }

  void spawn_streams(io::Loop& loop) {
    if (container_.console().valid()) {
      // With -t both streams arrive on the pty: log them as stdout, as Docker does.
      loop.spawn(stream(
          loop,
          UniqueFd(check(::fcntl(container_.console().get(), F_DUPFD_CLOEXEC, 3), "dup console")),
          LogStream::Stdout));
    }
    if (out_.read) {
      loop.spawn(stream(loop, std::move(out_.read), LogStream::Stdout));
    }
    if (err_.read) {
      loop.spawn(stream(loop, std::move(err_.read), LogStream::Stderr));
    }
  }

  io::Task<void> stream(io::Loop& loop, UniqueFd pipe, LogStream which) {
    ++streams_open_;
    try {
      co_await stream_to_log(loop, pipe.borrow(), which, writer_);
    } catch (const Error&) {
      // A full disk or a pty closing with EIO: the container runs on, the log misses output.
    }
    --streams_open_;
  }

  io::Task<void> watch_signals(io::Loop& loop) {
    for (;;) {
      const auto info = co_await signals_.next(loop);
      if (info.ssi_signo == SIGPIPE || stopping_) {
        continue;
      }
      stopping_ = true;
      if (running_) {
        const auto& name = container_.record().spec.stop_signal;
        sys::pidfd_signal(container_.pidfd(), name.empty() ? SIGTERM : parse_signal(name));
        loop.spawn(kill_after(loop, kStopTimeout));
      }
    }
  }

  io::Task<void> kill_after(io::Loop& loop, std::chrono::milliseconds timeout) {
    co_await io::sleep(loop, timeout);
    if (running_) {
      // pid 1 of a pid namespace takes every other process of the container with it.
      sys::pidfd_signal(container_.pidfd(), SIGKILL);
    }
  }

  Container& container_;
  SupervisorOptions options_;
  io::SignalSet& signals_;
  std::filesystem::path dir_;
  LogWriter writer_;
  Pipe out_;
  Pipe err_;
  int streams_open_ = 0;
  bool running_ = false;
  bool stopping_ = false;
};

// The daemon's life: make the container, start it, report, supervise, clean up. Never returns.
[[noreturn]] void supervisor_main(const ContainerStore& store,
                                  const std::function<Container()>& make, SupervisorOptions options,
                                  bool keep_on_failure, UniqueFd report) {
  ::prctl(PR_SET_NAME, "gctool-sup", 0, 0, 0);
  int status = 0;
  try {
    // Blocked before the container exists, so that an early SIGTERM is seen on the loop.
    io::SignalSet signals(kSupervisorSignals);
    Container container = make();
    const auto dir = store.dir(container.id());
    std::error_code ignored;
    std::filesystem::remove(stop_request_path(dir), ignored);
    save_supervisor_options(dir, options);
    Supervisor supervisor(container, dir, options, signals);
    try {
      supervisor.start();
    } catch (...) {
      if (keep_on_failure) {
        // An existing container stays as it was instead of being destroyed with its files.
        container.finish();
      }
      throw;
    }
    send_report(report, 0, container.id());
    try {
      io::Loop loop;
      io::sync_wait(loop, supervisor.run(loop));
    } catch (const std::exception&) {
      status = 1;
    }
    container.finish();
  } catch (const InitError& e) {
    send_report(report, e.exit_code(), e.what());
    status = 1;
  } catch (const std::exception& e) {
    send_report(report, 125, e.what());
    status = 1;
  }
  ::_exit(status);
}

// Forks the supervisor and returns the id it reports, or throws StartError.
std::string detach(const ContainerStore& store, const std::function<Container()>& make,
                   const SupervisorOptions& options, bool keep_on_failure) {
  Pipe report = make_pipe();
  if (sys::fork_daemon()) {
    report.read.reset();
    supervisor_main(store, make, options, keep_on_failure, std::move(report.write));
  }
  report.write.reset();
  const std::string text = read_all(report.read.borrow(), "the supervisor report");
  const auto nl = text.find('\n');
  if (nl == std::string::npos) {
    throw StartError(125, "the supervisor exited before the container started");
  }
  const int code = std::stoi(text.substr(0, nl));
  if (code != 0) {
    throw StartError(code, text.substr(nl + 1));
  }
  return text.substr(nl + 1);
}

}  // namespace

std::string run_detached(const ContainerStore& store, Spec spec, const SupervisorOptions& options) {
  if (spec.auto_remove && options.restart.mode != RestartPolicy::Mode::no) {
    throw_invalid("conflicting options: cannot specify both --restart and --rm");
  }
  const Durability durability = spec.auto_remove ? Durability::fast : Durability::durable;
  return detach(
      store,
      [&store, &spec, durability] { return Container::create(store, std::move(spec), durability); },
      options, false);
}

std::string start_detached(const ContainerStore& store, std::string_view ref) {
  const std::string id = [&] {
    const auto lock = store.lock();
    return store.resolve(ref);
  }();
  SupervisorOptions options = load_supervisor_options(store.dir(id));
  options.restart_count = 0;
  return detach(
      store, [&store, &id] { return Container::restart(store, id, Durability::durable); }, options,
      true);
}

}  // namespace gctool::container
