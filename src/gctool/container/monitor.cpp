#include "gctool/container/monitor.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <span>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gctool/container/log_stream.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/event_journal.hpp"
#include "gctool/core/pipe.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/core/text.hpp"
#include "gctool/core/time.hpp"
#include "gctool/io/process.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sleep.hpp"
#include "gctool/io/timeout.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::container {
namespace {

using namespace std::chrono_literals;

// How long the log streams may take to reach end of file once pid 1 has exited.
constexpr auto kDrainTimeout = 2s;

template <typename T>
T parse_number(std::string_view key, std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw_invalid("supervisor: {} is not a number: \"{}\"", key, text);
  }
  return value;
}

}  // namespace

Monitor::Monitor(LogWriter& writer, io::SignalSet& signals, int stop_signal)
    : writer_(writer), signals_(signals), stop_signal_(stop_signal) {}

void Monitor::watch_signals(io::Loop& loop) {
  loop.spawn(signal_loop(loop));
}

io::Task<siginfo_t> Monitor::run(io::Loop& loop, BorrowedFd pidfd, UniqueFd out, UniqueFd err,
                                 UniqueFd console, UniqueFd attach_listener, UniqueFd stdin_pipe,
                                 std::vector<net::ProxyListener> proxies) {
  net::PortProxy proxy(std::move(proxies));
  proxy.start(loop);
  // Shared with the streams, which a drain timeout may leave behind this frame.
  std::shared_ptr<AttachServer> attach;
  if (attach_listener) {
    // Its own copy of the console, which the stream closes when it ends.
    UniqueFd input = std::move(stdin_pipe);
    if (console) {
      input = UniqueFd(check(::fcntl(console.get(), F_DUPFD_CLOEXEC, 3), "dup the console"));
    }
    attach = std::make_shared<AttachServer>(std::move(attach_listener), std::move(input),
                                            console.valid(), pidfd);
    attach->serve(loop);
  }
  for (auto* pipe : {&console, &out}) {
    if (*pipe) {
      loop.spawn(stream(loop, std::move(*pipe), LogStream::Stdout, attach));
    }
  }
  if (err) {
    loop.spawn(stream(loop, std::move(err), LogStream::Stderr, attach));
  }
  pidfd_ = pidfd;
  running_ = true;
  std::optional<io::SpawnId> health;
  if (!health_.command.empty()) {
    health = loop.spawn(health_loop(loop));
  }
  const siginfo_t info = co_await io::wait_exit(loop, pidfd);
  running_ = false;
  // Its ports are free again for the next start (restart policy).
  proxy.stop();
  if (health) {
    // A check under way is killed; the state stays as the last check left it.
    loop.cancel(*health);
    co_await io::wait_until_zero(loop, health_running_, kDrainTimeout);
  }
  // Let the streams write what the container printed last before the exit is visible.
  co_await io::wait_until_zero(loop, streams_open_, kDrainTimeout);
  if (attach) {
    co_await attach->finish(loop, io::exit_code(info));
  }
  co_return info;
}

io::Task<void> Monitor::stream(io::Loop& loop, UniqueFd pipe, LogStream which,
                               std::shared_ptr<AttachServer> attach) {
  ++streams_open_;
  try {
    co_await stream_to_log(loop, pipe.borrow(), which, writer_, attach.get());
  } catch (const Error&) {
    // A full disk or a pty closing with EIO: the container runs on, the log misses output.
  }
  --streams_open_;
}

io::Task<void> Monitor::signal_loop(io::Loop& loop) {
  for (;;) {
    const auto info = co_await signals_.next(loop);
    if (info.ssi_signo == SIGPIPE || stopping_) {
      continue;
    }
    stopping_ = true;
    if (running_) {
      sys::pidfd_signal(pidfd_, stop_signal_);
      loop.spawn(kill_after(loop, kSupervisorStopTimeout));
    }
  }
}

io::Task<void> Monitor::kill_after(io::Loop& loop, std::chrono::milliseconds timeout) {
  co_await io::sleep(loop, timeout);
  if (running_) {
    // pid 1 of a pid namespace takes every other process of the container with it.
    sys::pidfd_signal(pidfd_, SIGKILL);
  }
}

io::Task<void> Monitor::health_loop(io::Loop& loop) {
  health_running_ = true;
  const HealthLoopEnd end{health_running_};
  HealthState state(health_, std::chrono::steady_clock::now());
  save_health(state);
  for (;;) {
    co_await io::sleep(loop, state.next_interval(std::chrono::steady_clock::now()));
    auto result = co_await probe(loop);
    const std::string before = state.status();
    state.record(std::move(result), std::chrono::steady_clock::now());
    save_health(state);
    if (state.status() != before && !health_.events_root.empty()) {
      // As Docker: an event when the status changes, "health_status: healthy".
      Event event = health_.actor;
      event.action = "health_status: " + state.status();
      record_event(health_.events_root, event);
    }
  }
}

void Monitor::save_health(const HealthState& state) const noexcept {
  try {
    state.save(health_.state_file);
  } catch (const std::exception&) {
    // A full disk: inspect shows the last state written.
  }
}

namespace {

// Reads a check's output until end of file, keeping the first kHealthOutputLimit bytes.
io::Task<void> read_check_output(io::Loop& loop, UniqueFd pipe, std::shared_ptr<std::string> out,
                                 std::shared_ptr<bool> reading) {
  const ScopeExit done([reading] { *reading = false; });
  std::array<char, 4096> buffer;
  for (;;) {
    const std::size_t n = co_await io::read(loop, pipe.borrow(), std::span<char>(buffer));
    if (n == 0) {
      co_return;
    }
    const auto room = kHealthOutputLimit - std::min(kHealthOutputLimit, out->size());
    out->append(buffer.data(), std::min(n, room));
  }
}

std::string now_rfc3339() {
  return format_rfc3339_nano(std::chrono::system_clock::now());
}

// Starts a check's process with its stdout and stderr on `output`, stdin /dev/null, and the
// signals this process blocks back to their defaults. Returns its pidfd.
UniqueFd spawn_check(const std::vector<std::string>& command, BorrowedFd output) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  const ScopeExit release([&] {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  });
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, output.get(), 2);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : kSupervisorSignals) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const auto& word : command) {
    argv.push_back(const_cast<char*>(word.c_str()));
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  if (err != 0) {
    throw Error(err, fmt::format("start the health check {}", command.front()));
  }
  auto pidfd = sys::try_pidfd_open(pid);
  if (!pidfd) {
    throw Error(ESRCH, "open a pidfd of the health check");
  }
  return std::move(*pidfd);
}

// The check's exit within timeout; nullopt when it did not come, with `cancelled` set when the
// wait was cancelled (pid 1 exited) rather than timed out.
io::Task<std::optional<siginfo_t>> wait_check(io::Loop& loop, BorrowedFd pidfd,
                                              std::chrono::nanoseconds timeout, bool& cancelled) {
  try {
    co_return co_await io::with_timeout(loop, io::wait_exit(loop, pidfd), timeout);
  } catch (const io::TimedOut&) {
  } catch (const Cancelled&) {
    cancelled = true;
  }
  co_return std::nullopt;
}

}  // namespace

io::Task<HealthResult> Monitor::probe(io::Loop& loop) {
  HealthResult result;
  result.start = now_rfc3339();
  Pipe pipe = make_pipe();
  UniqueFd pidfd;
  try {
    pidfd = spawn_check(health_.command, pipe.write.borrow());
  } catch (const Error& e) {
    result.end = now_rfc3339();
    result.exit_code = -1;
    result.output = e.what();
    co_return result;
  }
  pipe.write.reset();
  auto output = std::make_shared<std::string>();
  auto reading = std::make_shared<bool>(true);
  const auto reader = loop.spawn(read_check_output(loop, std::move(pipe.read), output, reading));
  bool cancelled = false;
  auto exit = co_await wait_check(loop, pidfd.borrow(), health_.timeout, cancelled);
  const bool timed_out = !exit && !cancelled;
  if (timed_out) {
    // gctool's check process ends the command it started in the container, then itself.
    sys::pidfd_signal(pidfd, SIGTERM);
    exit = co_await wait_check(loop, pidfd.borrow(), 2s, cancelled);
  }
  if (!exit) {
    sys::pidfd_signal(pidfd, SIGKILL);
    sys::pidfd_wait(pidfd);
    loop.cancel(reader);
    if (cancelled) {
      throw Cancelled();
    }
  }
  // What it wrote last is in the pipe: let the reader get to its end.
  co_await io::wait_until_zero(loop, *reading, 100ms);
  loop.cancel(reader);
  result.end = now_rfc3339();
  if (timed_out) {
    result.exit_code = -1;
    result.output = health_timeout_message(health_.timeout);
  } else {
    result.exit_code = io::exit_code(*exit);
    result.output = *output;
  }
  co_return result;
}

std::vector<std::string> MonitorArgs::to_argv(const std::string& program) const {
  std::vector<std::string> argv = {
      program,
      "--pidfd=" + std::to_string(pidfd),
      "--out=" + std::to_string(out),
      "--err=" + std::to_string(err),
      "--console=" + std::to_string(console),
      "--attach=" + std::to_string(attach),
      "--stdin=" + std::to_string(stdin_pipe),
      "--log=" + log_path,
      "--log-driver=" + std::string(to_string(log.driver)),
      "--max-size=" + std::to_string(log.max_size),
      "--max-files=" + std::to_string(log.max_files),
      "--stop-signal=" + std::to_string(stop_signal),
  };
  for (const auto& proxy : proxies) {
    argv.push_back("--proxy=" + proxy);
  }
  if (!health.command.empty()) {
    argv.push_back(fmt::format("--health={},{},{},{},{}", health.interval.count(),
                               health.timeout.count(), health.start_period.count(), health.retries,
                               health.start_interval.count()));
    argv.push_back("--health-state=" + health.state_file.string());
    if (!health.events_root.empty()) {
      argv.push_back("--health-events=" + health.events_root.string());
      const nlohmann::json actor = {{"ID", health.actor.id},
                                    {"Attributes", health.actor.attributes}};
      argv.push_back("--health-actor=" + actor.dump());
    }
    for (const auto& word : health.command) {
      argv.push_back("--health-arg=" + word);
    }
  }
  argv.emplace_back("--");
  argv.insert(argv.end(), exit_command.begin(), exit_command.end());
  return argv;
}

MonitorArgs MonitorArgs::parse(int argc, const char* const* argv) {
  MonitorArgs args;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    const auto eq = arg.find('=');
    if (!arg.starts_with("--") || eq == std::string_view::npos) {
      throw_invalid("supervisor: unexpected argument \"{}\"", arg);
    }
    const auto key = arg.substr(2, eq - 2);
    const auto value = arg.substr(eq + 1);
    if (key == "pidfd") {
      args.pidfd = parse_number<int>(key, value);
    } else if (key == "out") {
      args.out = parse_number<int>(key, value);
    } else if (key == "err") {
      args.err = parse_number<int>(key, value);
    } else if (key == "console") {
      args.console = parse_number<int>(key, value);
    } else if (key == "attach") {
      args.attach = parse_number<int>(key, value);
    } else if (key == "stdin") {
      args.stdin_pipe = parse_number<int>(key, value);
    } else if (key == "log") {
      args.log_path = value;
    } else if (key == "log-driver") {
      args.log.driver = value == "json-file" ? LogDriver::json_file
                        : value == "none"    ? LogDriver::none
                                             : LogDriver::local;
    } else if (key == "max-size") {
      args.log.max_size = parse_number<std::int64_t>(key, value);
    } else if (key == "max-files") {
      args.log.max_files = parse_number<int>(key, value);
    } else if (key == "proxy") {
      args.proxies.emplace_back(value);
    } else if (key == "stop-signal") {
      args.stop_signal = parse_number<int>(key, value);
    } else if (key == "health") {
      const auto parts = gctool::split(value, ',');
      if (parts.size() != 5) {
        throw_invalid(
            "supervisor: --health wants INTERVAL,TIMEOUT,START_PERIOD,RETRIES,START_INTERVAL");
      }
      args.health.interval = std::chrono::nanoseconds(parse_number<std::int64_t>(key, parts[0]));
      args.health.timeout = std::chrono::nanoseconds(parse_number<std::int64_t>(key, parts[1]));
      args.health.start_period =
          std::chrono::nanoseconds(parse_number<std::int64_t>(key, parts[2]));
      args.health.retries = parse_number<int>(key, parts[3]);
      args.health.start_interval =
          std::chrono::nanoseconds(parse_number<std::int64_t>(key, parts[4]));
    } else if (key == "health-state") {
      args.health.state_file = value;
    } else if (key == "health-events") {
      args.health.events_root = value;
    } else if (key == "health-actor") {
      const auto actor = nlohmann::json::parse(value, nullptr, false);
      if (!actor.is_object() || !actor.contains("ID") || !actor["ID"].is_string()) {
        throw_invalid("supervisor: --health-actor wants {{\"ID\": ..., \"Attributes\": ...}}");
      }
      args.health.actor = {"container", {}, actor["ID"].get<std::string>(), {}};
      const auto attributes = actor.value("Attributes", nlohmann::json::object());
      for (const auto& [k, v] : attributes.items()) {
        if (v.is_string()) {
          args.health.actor.attributes[k] = v.get<std::string>();
        }
      }
    } else if (key == "health-arg") {
      args.health.command.emplace_back(value);
    } else {
      throw_invalid("supervisor: unknown option \"{}\"", arg);
    }
  }
  for (; i < argc; ++i) {
    args.exit_command.emplace_back(argv[i]);
  }
  if (args.pidfd < 0 || (args.log_path.empty() && args.log.driver != LogDriver::none) ||
      args.exit_command.empty()) {
    throw_invalid("supervisor: --pidfd, --log (but with none) and an exit command are required");
  }
  return args;
}

}  // namespace gctool::container
