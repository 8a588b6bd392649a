// The supervisor process: forked off the CLI by run_detached(), it starts the container with its
// stdout and stderr on pipes, tells the CLI the outcome, then lives on one io_uring loop until the
// container has ended for good.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gctool/container/attach.hpp"
#include "gctool/container/events.hpp"
#include "gctool/container/foreground.hpp"
#include "gctool/container/health.hpp"
#include "gctool/container/init.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/container/monitor.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/pipe.hpp"
#include "gctool/core/units.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/process.hpp"
#include "gctool/io/signals.hpp"
#include "gctool/io/sleep.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/task.hpp"
#include "gctool/net/port_proxy.hpp"
#include "gctool/sys/daemon.hpp"
#include "gctool/sys/pidfd.hpp"
#include "gctool/sys/sealed_exe.hpp"

namespace gctool::container {
namespace {

using namespace std::chrono_literals;

// gctool-supervisor, when use_supervisor_helper() named it.
std::filesystem::path& supervisor_helper() {
  static std::filesystem::path helper;
  return helper;
}

// The supervisor's own output goes nowhere once it supervises.
void stdio_to_null() {
  const UniqueFd null(check(::open("/dev/null", O_WRONLY | O_CLOEXEC), "open /dev/null"));
  check(::dup2(null.get(), 1), "dup2 stdout");
  check(::dup2(null.get(), 2), "dup2 stderr");
}

// How much output a container may have in flight before it blocks on a full pipe: with a large
// pipe each read of the log stream moves a large chunk, so the supervisor wakes up and writes far
// less often per byte. The pages are the kernel's, charged to the writer (the container), and
// only while they hold unread output.
constexpr std::size_t kLogPipeSize = 1 << 20;

// Grows a log pipe to kLogPipeSize, or to /proc/sys/fs/pipe-max-size if that is smaller. Best
// effort: a kernel that refuses (a user over its pipe quota) leaves the pipe as it is.
void grow_log_pipe(BorrowedFd pipe) {
  std::size_t size = kLogPipeSize;
  if (const auto max = try_read_file("/proc/sys/fs/pipe-max-size")) {
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(max->data(), max->data() + max->size(), value);
    if (ec == std::errc() && value > 0) {
      size = std::min(size, value);
    }
  }
  ::fcntl(pipe.get(), F_SETPIPE_SZ, static_cast<int>(size));
}

// How long the supervisor of `run -it` waits for its client before starting the container anyway.
constexpr int kAttachWaitMs = 10'000;

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

// The health checks of the container, if it has any: each runs `gctool __health-exec ROOT ID`
// (see container/health.hpp), the host's gctool rather than the sealed copy this process may run
// from.
HealthSettings health_of(const Container& container, const std::filesystem::path& dir) {
  const auto& check = container.record().spec.healthcheck;
  if (!health_enabled(check)) {
    return {};
  }
  HealthSettings settings = health_settings(*check);
  try {
    settings.command = {sys::host_executable().string(), std::string(kHealthExecVerb),
                        dir.parent_path().parent_path().string(), container.id()};
  } catch (const Error&) {
    return {};
  }
  settings.state_file = health_state_path(dir);
  settings.events_root = dir.parent_path().parent_path();
  settings.actor = container_event(container.record(), "");
  return settings;
}

int stop_signal_of(const Container& container) {
  const auto& name = container.record().spec.stop_signal;
  return name.empty() ? SIGTERM : parse_signal(name);
}

class Supervisor {
 public:
  Supervisor(Container& container, std::filesystem::path dir, SupervisorOptions options,
             io::SignalSet& signals, bool stopping = false)
      : container_(container),
        options_(options),
        dir_(std::move(dir)),
        writer_(container_log_path(dir_, options.log.driver), options.log),
        monitor_(writer_, signals, stop_signal_of(container)),
        stopping_(stopping) {
    monitor_.set_health(health_of(container_, dir_));
  }

  // Starts the container with its output on fresh pipes, as api::start_piped does (through
  // start_with_output). Stream tasks are spawned later, on the loop.
  // With -i and no tty, the container's stdin is a pipe that this process holds open for
  // `attach`; and every life gets a fresh attach socket.
  void start() {
    out_ = make_pipe();
    err_ = make_pipe();
    grow_log_pipe(out_.read.borrow());
    grow_log_pipe(err_.read.borrow());
    const auto& spec = container_.record().spec;
    in_ = {};
    if (spec.open_stdin && !spec.tty) {
      in_ = make_pipe();
    }
    attach_ = listen_attach_socket(dir_);
    if (ready_) {
      // `run -it`: the CLI connects now, and the start waits for it.
      send_report(ready_, 0, container_.id());
      pollfd waiting{attach_.get(), POLLIN, 0};
      ::poll(&waiting, 1, kAttachWaitMs);
    }
    try {
      start_with_output(container_, in_.read.borrow(), out_.write.borrow(), err_.write.borrow());
    } catch (...) {
      out_ = {};
      err_ = {};
      in_ = {};
      attach_.reset();
      throw;
    }
    proxies_ = container_.take_port_proxies();
    stdio_to_null();
    out_.write.reset();
    err_.write.reset();
    in_.read.reset();
  }

  // Supervises the started container in this process until it has ended for good. Call
  // watch_signals() first.
  io::Task<void> run(io::Loop& loop) {
    do {
      UniqueFd console;
      if (container_.console().valid()) {
        // With -t both streams arrive on the pty: log them as stdout, as Docker does.
        console =
            UniqueFd(check(::fcntl(container_.console().get(), F_DUPFD_CLOEXEC, 3), "dup console"));
      }
      const siginfo_t info = co_await monitor_.run(
          loop, container_.pidfd(), std::move(out_.read), std::move(err_.read), std::move(console),
          std::move(attach_), std::move(in_.write), std::exchange(proxies_, {}));
      if (!co_await after_exit(loop, info)) {
        co_return;
      }
    } while (true);
  }

  // Records the exit; when the restart policy says so, waits for the back-off and starts the
  // container again (true).
  io::Task<bool> after_exit(io::Loop& loop, const siginfo_t& info) {
    const bool restart = should_restart(options_.restart, io::exit_code(info),
                                        options_.restart_count, stop_requested());
    // While it waits, the record says "restarting" (ps: `Restarting (N) 1 second ago`).
    container_.record_exit(info, restart);
    if (!restart) {
      co_return false;
    }
    const auto delay = restart_delay(options_.restart_count);
    for (auto waited = 0ms; waited < delay && !stop_requested(); waited += 50ms) {
      co_await io::sleep(loop, std::min<std::chrono::milliseconds>(50ms, delay - waited));
    }
    if (stop_requested()) {
      container_.cancel_restart();
      co_return false;
    }
    ++options_.restart_count;
    container_.count_restart();
    try {
      start();
    } catch (const std::exception& e) {
      container_.cancel_restart(e.what());
      throw;
    }
    // A stop that came after the last look above found the container restarting and left it to
    // us (one that comes from now on finds it running and stops it itself): end it at once.
    if (stop_requested()) {
      sys::pidfd_signal(container_.pidfd(), SIGKILL);
    }
    co_return true;
  }

  // The first start announces itself on `ready` and waits for an attach client.
  void announce_before_start(UniqueFd ready) { ready_ = std::move(ready); }

  // Signals to this process stop the container, and a stopped container does not restart.
  void watch_signals(io::Loop& loop) { monitor_.watch_signals(loop); }

  // Hands the started container to gctool-supervisor, whose exit command brings it back to
  // resume_supervisor() in the executable of this process. Returns only when that is not
  // possible; the caller then supervises in process.
  void exec_helper(const ContainerStore& store) {
    const auto& helper = supervisor_helper();
    if (helper.empty()) {
      return;
    }
    // The host's gctool, not the sealed copy this process may run from.
    std::filesystem::path self;
    try {
      self = sys::host_executable();
    } catch (const Error&) {
      return;
    }
    MonitorArgs args;
    args.pidfd = container_.pidfd().get();
    args.out = out_.read.get();
    args.err = err_.read.get();
    args.console = container_.console().get();
    args.attach = attach_.get();
    args.stdin_pipe = in_.write.get();
    args.log_path = writer_.path().string();
    args.log = options_.log;
    args.stop_signal = stop_signal_of(container_);
    std::vector<int> fds = {args.pidfd,   args.out,    args.err,
                            args.console, args.attach, args.stdin_pipe};
    for (const auto& proxy : proxies_) {
      args.proxies.push_back(net::to_argument(proxy));
      fds.push_back(proxy.listener.get());
    }
    args.health = health_of(container_, dir_);
    args.exit_command = {self.string(), std::string(kSuperviseExitedVerb), store.root().string(),
                         container_.id(), std::to_string(options_.restart_count)};
    for (const int fd : fds) {
      if (fd >= 0) {
        ::fcntl(fd, F_SETFD, 0);
      }
    }
    auto words = args.to_argv(helper.string());
    std::vector<char*> argv;
    for (auto& word : words) {
      argv.push_back(word.data());
    }
    argv.push_back(nullptr);
    ::execv(helper.c_str(), argv.data());
    for (const int fd : fds) {
      if (fd >= 0) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
    }
  }

 private:
  // Asked to stop (stop, kill -9, SIGTERM to this process), or removed (rm -f): the container
  // is not started again.
  bool stop_requested() const {
    return stopping_ || monitor_.stopping() || std::filesystem::exists(stop_request_path(dir_)) ||
           !std::filesystem::exists(dir_);
  }

  Container& container_;
  SupervisorOptions options_;
  std::filesystem::path dir_;
  LogWriter writer_;
  Monitor monitor_;
  Pipe out_;
  Pipe err_;
  Pipe in_;
  UniqueFd attach_;
  std::vector<net::ProxyListener> proxies_;
  UniqueFd ready_;
  bool stopping_;
};

// The daemon's life: make the container, start it, report, supervise, clean up. Never returns.
[[noreturn]] void supervisor_main(const ContainerStore& store,
                                  const std::function<Container()>& make, SupervisorOptions options,
                                  bool keep_on_failure, UniqueFd report, UniqueFd ready) {
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
    supervisor.announce_before_start(std::move(ready));
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
    supervisor.exec_helper(store);
    try {
      io::Loop loop;
      supervisor.watch_signals(loop);
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
                   const SupervisorOptions& options, bool keep_on_failure,
                   const std::function<void(const std::string&)>& on_listening = {}) {
  Pipe report = make_pipe();
  Pipe ready;
  if (on_listening) {
    ready = make_pipe();
  }
  if (sys::fork_daemon()) {
    report.read.reset();
    ready.read.reset();
    supervisor_main(store, make, options, keep_on_failure, std::move(report.write),
                    std::move(ready.write));
  }
  report.write.reset();
  if (on_listening) {
    ready.write.reset();
    // "0\n<id>" once it listens; nothing when it failed before (the report says why).
    const std::string text = read_all(ready.read.borrow(), "the supervisor's attach notice");
    if (const auto nl = text.find('\n'); nl != std::string::npos) {
      on_listening(text.substr(nl + 1));
    }
  }
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

void check_restart_policy(const Spec& spec, const SupervisorOptions& options) {
  if (spec.auto_remove && options.restart.mode != RestartPolicy::Mode::no) {
    throw_invalid("conflicting options: cannot specify both --restart and --rm");
  }
}

std::string create_container(const ContainerStore& store, Spec spec,
                             const SupervisorOptions& options) {
  check_restart_policy(spec, options);
  auto container = Container::create(store, std::move(spec), Durability::durable);
  save_supervisor_options(store.dir(container.id()), options);
  container.keep_created();
  return container.id();
}

std::string run_detached(const ContainerStore& store, Spec spec, const SupervisorOptions& options,
                         const std::function<void(const std::string&)>& on_listening) {
  check_restart_policy(spec, options);
  const Durability durability = spec.auto_remove ? Durability::fast : Durability::durable;
  return detach(
      store,
      [&store, &spec, durability] { return Container::create(store, std::move(spec), durability); },
      options, false, on_listening);
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

void use_supervisor_helper(std::filesystem::path helper) {
  supervisor_helper() = std::move(helper);
}

void resume_supervisor(int argc, const char* const* argv) {
  // <exe> __supervise-exited ROOT ID RESTART_COUNT SI_CODE SI_STATUS STOPPING
  if (argc != 8 || argv[1] != kSuperviseExitedVerb) {
    ::_exit(125);
  }
  ::prctl(PR_SET_NAME, "gctool-sup", 0, 0, 0);
  int status = 0;
  try {
    io::SignalSet signals(kSupervisorSignals);
    const ContainerStore store(argv[2]);
    const std::string id = argv[3];
    Container container = Container::adopt(store, id);
    const auto dir = store.dir(id);
    SupervisorOptions options = load_supervisor_options(dir);
    options.restart_count = std::stoi(argv[4]);
    siginfo_t info{};
    info.si_code = std::stoi(argv[5]);
    info.si_status = std::stoi(argv[6]);
    Supervisor supervisor(container, dir, options, signals, std::string_view(argv[7]) == "1");
    try {
      io::Loop loop;
      supervisor.watch_signals(loop);
      if (io::sync_wait(loop, supervisor.after_exit(loop, info))) {
        supervisor.exec_helper(store);
        io::sync_wait(loop, supervisor.run(loop));
      }
    } catch (const std::exception&) {
      status = 1;
    }
    container.finish();
  } catch (const std::exception&) {
    status = 1;
  }
  ::_exit(status);
}

}  // namespace gctool::container
