#include "gctool/container/monitor.hpp"

#include <fcntl.h>

#include <charconv>
#include <string_view>

#include "gctool/container/log_stream.hpp"
#include "gctool/core/error.hpp"
#include "gctool/io/process.hpp"
#include "gctool/io/sleep.hpp"
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
                                 UniqueFd console, UniqueFd attach_listener, UniqueFd stdin_pipe) {
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
  const siginfo_t info = co_await io::wait_exit(loop, pidfd);
  running_ = false;
  // Let the streams write what the container printed last before the exit is visible.
  for (auto waited = 0ms; streams_open_ > 0 && waited < kDrainTimeout; waited += 10ms) {
    co_await io::sleep(loop, 10ms);
  }
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
      "--max-size=" + std::to_string(log.max_size),
      "--max-files=" + std::to_string(log.max_files),
      "--stop-signal=" + std::to_string(stop_signal),
      "--",
  };
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
    } else if (key == "max-size") {
      args.log.max_size = parse_number<std::int64_t>(key, value);
    } else if (key == "max-files") {
      args.log.max_files = parse_number<int>(key, value);
    } else if (key == "stop-signal") {
      args.stop_signal = parse_number<int>(key, value);
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
      "--log-driver=" + std::string(to_string(log.driver)),
    } else if (key == "log-driver") {
      args.log.driver = value == "json-file" ? LogDriver::json_file
                        : value == "none"    ? LogDriver::none
                                             : LogDriver::local;
