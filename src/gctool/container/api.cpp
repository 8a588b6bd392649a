// container/api.hpp: attaching to a container's processes, its output as records, its log as
// records; and the foreground output of container/foreground.hpp, which attach relays.
#include "gctool/container/api.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "gctool/container/foreground.hpp"
#include "gctool/container/log_stream.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/pipe.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/io/poll.hpp"
#include "gctool/io/process.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sleep.hpp"
#include "gctool/io/task.hpp"
#include "gctool/io/when_all.hpp"
#include "gctool/net/port_proxy.hpp"
#include "gctool/sys/pidfd.hpp"
#include "gctool/sys/pty.hpp"

namespace gctool::container {

ForegroundOutput::ForegroundOutput(const ContainerStore& store, const Container& container,
                                   const LogOptions& options)
    : log_(container_log_path(store.dir(container.id()), options.driver), options) {}

void ForegroundOutput::start(Container& container, BorrowedFd stdin_fd) {
  if (container.record().spec.tty) {
    container.start(stdin_fd);
    return;
  }
  out_ = make_pipe();
  err_ = make_pipe();
  // Only the container holds the write ends afterwards: end of file comes when it is gone.
  const ScopeExit close_ours([&] {
    out_.write.reset();
    err_.write.reset();
  });
  start_with_output(container, stdin_fd, out_.write, err_.write);
}

void start_with_output(Container& container, BorrowedFd stdin_fd, BorrowedFd out, BorrowedFd err) {
  if (container.record().spec.tty) {
    container.start(stdin_fd);
    return;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const UniqueFd saved_out(check(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3), "dup stdout"));
  const UniqueFd saved_err(check(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3), "dup stderr"));
  const ScopeExit restore([&] {
    ::dup2(saved_out.get(), STDOUT_FILENO);
    ::dup2(saved_err.get(), STDERR_FILENO);
  });
  check(::dup2(out.get(), STDOUT_FILENO), "dup2 stdout");
  check(::dup2(err.get(), STDERR_FILENO), "dup2 stderr");
  container.start(stdin_fd);
}

}  // namespace gctool::container

namespace gctool::container::api {
namespace {

using namespace std::chrono_literals;

constexpr int kStdin = 0;
constexpr int kStdout = 1;
constexpr int kStderr = 2;

// How long the session waits after pid 1's exit for the output pipes to reach end of file (at
// once, normally: the other processes of the pid namespace die with pid 1).
constexpr auto kDrainTimeout = 2s;

// Copies what the container writes to `terminal` (when valid) first, then into the log, until end
// of file. A terminal that has gone (EPIPE) or a log that cannot be written (a full disk) stops
// getting the output, but the pipe is still drained so that the container never blocks on it.
io::Task<void> relay_output(io::Loop& loop, UniqueFd pipe, BorrowedFd terminal, LogStream stream,
                            LogWriter& log, int& open) {
  ++open;
  const auto buffer = make_log_buffer(LogWriter::kReadBufferSize);
  const std::span<char> space(buffer.get(), LogWriter::kReadBufferSize);
  bool to_terminal = terminal.valid();
  bool to_log = true;
  for (;;) {
    std::size_t n = 0;
    try {
      n = co_await io::read(loop, pipe.borrow(), space);
    } catch (const Error&) {
      break;
    }
    if (n == 0) {
      break;
    }
    const std::string_view data(buffer.get(), n);
    if (to_terminal) {
      try {
        co_await io::write_all(loop, terminal, data);
      } catch (const Error&) {
        to_terminal = false;
      }
    }
    if (to_log) {
      try {
        log.write(stream, data);
      } catch (const Error&) {
        to_log = false;
      }
    }
  }
  --open;
}

io::Task<void> forward_signals(io::Loop& loop, BorrowedFd signal_fd, BorrowedFd pidfd,
                               BorrowedFd console) {
  for (;;) {
    co_await io::poll(loop, signal_fd, POLLIN);
    signalfd_siginfo info{};
    while (::read(signal_fd.get(), &info, sizeof info) == sizeof info) {
      const int signo = static_cast<int>(info.ssi_signo);
      if (signo == SIGWINCH) {
        if (console.valid()) {
          sys::copy_window_size(BorrowedFd(kStdin), console);
        }
      } else {
        // The process is reaped only once the loop has ended: the pidfd still names it.
        sys::pidfd_signal(pidfd, signo);
      }
    }
  }
}

// Until end of input, or until reading our stdin or writing the console fails (the process has
// gone): the session's outcome is the process's exit, not the relay's.
io::Task<void> relay_stdin(io::Loop& loop, BorrowedFd console) {
  std::array<char, 4096> buffer{};
  try {
    for (;;) {
      const std::size_t n = co_await io::read(loop, BorrowedFd(kStdin), buffer);
      if (n == 0) {
        // End of input: the terminal's EOF character, as typing ^D would.
        const char eof = 4;
        co_await io::write_all(loop, console, std::string_view(&eof, 1));
        co_return;
      }
      co_await io::write_all(loop, console, std::string_view(buffer.data(), n));
    }
  } catch (const Error&) {
    // Nothing left to relay to.
  }
}

// Copies the console to stdout until every slave fd is closed (EIO), which happens once the
// container's processes are gone.
io::Task<void> relay_console(io::Loop& loop, BorrowedFd console, LogWriter* log, bool to_terminal) {
  std::array<char, 16384> buffer{};
  for (;;) {
    std::size_t n = 0;
    try {
      n = co_await io::read(loop, console, buffer);
    } catch (const Error& e) {
      if (e.errno_value() == EIO) {
        co_return;
      }
      throw;
    }
    if (n == 0) {
      co_return;
    }
    if (to_terminal) {
      co_await io::write_all(loop, BorrowedFd(kStdout), std::string_view(buffer.data(), n));
    }
    if (log != nullptr) {
      try {
        log->write(LogStream::Stdout, std::string_view(buffer.data(), n));
      } catch (const Error&) {
        log = nullptr;  // a full disk: the terminal still gets everything
      }
    }
  }
}

// Until the process exits and, with output, its pipes are drained (or kDrainTimeout has passed).
io::Task<siginfo_t> session(io::Loop& loop, BorrowedFd pidfd, BorrowedFd console,
                            ForegroundOutput* output) {
  LogWriter* log = output != nullptr ? &output->log() : nullptr;
  if (console.valid()) {
    co_await relay_console(loop, console, log, output == nullptr || output->shows_out());
  }
  // Counted in output, which outlives this frame and the relays a timeout leaves behind.
  int* open = output != nullptr ? &output->relaying() : nullptr;
  if (output != nullptr && !console.valid()) {
    if (auto out = output->take_out(); out.valid()) {
      const BorrowedFd terminal = output->shows_out() ? BorrowedFd(kStdout) : BorrowedFd();
      loop.spawn(relay_output(loop, std::move(out), terminal, LogStream::Stdout, *log, *open));
    }
    if (auto err = output->take_err(); err.valid()) {
      const BorrowedFd terminal = output->shows_err() ? BorrowedFd(kStderr) : BorrowedFd();
      loop.spawn(relay_output(loop, std::move(err), terminal, LogStream::Stderr, *log, *open));
    }
  }
  const siginfo_t info = co_await io::wait_exit(loop, pidfd);
  if (open != nullptr) {
    co_await io::wait_until_zero(loop, *open, kDrainTimeout);
  }
  co_return info;
}

// The session of one process with the signal forwarding and stdin relay beside it, which end
// with it.
io::Task<siginfo_t> attach_process(io::Loop& loop, BorrowedFd pidfd, BorrowedFd console,
                                   const AttachOptions& options) {
  std::optional<sys::RawTerminal> raw;
  const bool tty = console.valid();
  if (tty) {
    sys::copy_window_size(BorrowedFd(kStdin), console);
    if (options.forward_stdin) {
      raw.emplace(BorrowedFd(kStdin));
    }
  }
  std::vector<io::SpawnId> helpers;
  if (options.signals.valid()) {
    helpers.push_back(loop.spawn(forward_signals(loop, options.signals, pidfd, console)));
  }
  if (tty && options.forward_stdin) {
    helpers.push_back(loop.spawn(relay_stdin(loop, console)));
  }
  const ScopeExit end_helpers([&] {
    for (const auto id : helpers) {
      loop.cancel(id);
    }
  });
  // A reader of our stdout that has gone must not kill us before the container's exit is
  // recorded (the container has started: it keeps its own SIGPIPE disposition).
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  if (options.output != nullptr) {
    ::sigaction(SIGPIPE, &ignore, &previous);
  }
  const ScopeExit restore([&] {
    if (options.output != nullptr) {
      ::sigaction(SIGPIPE, &previous, nullptr);
    }
  });
  co_return co_await session(loop, pidfd, console, options.output);
}

io::Task<void> readable(io::Loop& loop, BorrowedFd fd) {
  co_await io::poll(loop, fd, POLLIN);
}

// Longest piece of a line Output keeps before returning it as a partial record.
constexpr std::size_t kMaxPiece = 64 * 1024;

// How often a follower looks for new records.
constexpr auto kFollowInterval = 100ms;

// The log file `logs` reads, the container's driver's; one with none is refused, as Docker.
std::filesystem::path readable_log(const ContainerStore& store, const std::string& id) {
  const auto dir = store.dir(id);
  const auto driver = load_supervisor_options(dir).log.driver;
  if (driver == LogDriver::none) {
    throw_invalid("configured logging driver does not support reading");
  }
  return container_log_path(dir, driver);
}

// Whether the container's process still runs: its pid with the recorded start time, so that a
// reused pid does not count. A record that has become unreadable counts as ended. Read without
// the store lock: records are replaced atomically, and logs must not wait.
bool container_running(const ContainerStore& store, const std::string& id) {
  try {
    const auto record = store.load(id);
    const auto& process = record ? record->state.process : ProcessId{};
    return record && record->running() && process.pid > 0 &&
           process_matches(process.pid, process.start_time);
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

io::Task<int> attach(io::Loop& loop, Container& container, const AttachOptions& options) {
  // The container's ports on [::1], served while this process waits for it.
  net::PortProxy proxy(container.take_port_proxies());
  proxy.start(loop);
  const siginfo_t info =
      co_await attach_process(loop, container.pidfd(), container.console(), options);
  proxy.stop();
  co_return container.record_exit(info);
}

io::Task<int> attach(io::Loop& loop, ExecProcess& process, const AttachOptions& options) {
  const siginfo_t info = co_await attach_process(loop, process.pidfd(), process.console(), options);
  const int code = io::exit_code(info);
  process.record_exit(code);
  co_return code;
}

Output::Output(UniqueFd out, UniqueFd err)
    : streams_{Stream{std::move(out), {}}, Stream{std::move(err), {}}} {
  for (auto& stream : streams_) {
    if (stream.fd.valid()) {
      const int flags = check(::fcntl(stream.fd.get(), F_GETFL), "fcntl F_GETFL");
      check(::fcntl(stream.fd.get(), F_SETFL, flags | O_NONBLOCK), "fcntl F_SETFL");
    }
  }
}

std::optional<OutputRecord> Output::take() {
  for (std::size_t k = 0; k < streams_.size(); ++k) {
    const std::size_t index = (turn_ + k) % streams_.size();
    auto& pending = streams_[index].pending;
    const auto stream = index == 0 ? LogStream::Stdout : LogStream::Stderr;
    const auto newline = pending.find('\n');
    if (newline != std::string::npos) {
      OutputRecord record{stream, pending.substr(0, newline), false, {}};
      pending.erase(0, newline + 1);
      turn_ = index + 1;
      return record;
    }
    // A piece that will not end soon: the stream has ended, or the line is too long to keep.
    if (!pending.empty() && (!streams_[index].fd.valid() || pending.size() >= kMaxPiece)) {
      OutputRecord record{stream, std::move(pending), true, {}};
      pending.clear();
      turn_ = index + 1;
      return record;
    }
  }
  return std::nullopt;
}

void Output::read_ready(Stream& stream) {
  std::array<char, 16384> buffer{};
  for (;;) {
    const ssize_t n = ::read(stream.fd.get(), buffer.data(), buffer.size());
    if (n > 0) {
      stream.pending.append(buffer.data(), static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < buffer.size() || stream.pending.size() >= kMaxPiece) {
        return;
      }
    } else if (n == 0) {
      stream.fd.reset();
      return;
    } else if (errno == EAGAIN) {
      return;
    } else if (errno != EINTR) {
      throw_errno("read the container's output");
    }
  }
}

io::Task<std::optional<OutputRecord>> Output::next(io::Loop& loop) {
  for (;;) {
    if (auto record = take()) {
      co_return record;
    }
    auto& [out, err] = streams_;
    if (!out.fd.valid() && !err.fd.valid()) {
      co_return std::nullopt;
    }
    if (out.fd.valid() && err.fd.valid()) {
      std::vector<io::Task<void>> waits;
      waits.push_back(readable(loop, out.fd));
      waits.push_back(readable(loop, err.fd));
      co_await io::when_any(std::move(waits));
    } else {
      co_await readable(loop, out.fd.valid() ? out.fd.borrow() : err.fd.borrow());
    }
    for (auto& stream : streams_) {
      if (stream.fd.valid()) {
        read_ready(stream);
      }
    }
  }
}

io::Task<Output> start_piped(io::Loop& loop, Container& container, BorrowedFd stdin_fd) {
  (void)loop;
  if (container.record().spec.tty) {
    container.start(stdin_fd);
    co_return Output(UniqueFd(), UniqueFd());
  }
  Pipe out = make_pipe();
  Pipe err = make_pipe();
  start_with_output(container, stdin_fd, out.write, err.write);
  // Only the container holds the write ends now: end of file comes when it is gone.
  out.write.reset();
  err.write.reset();
  co_return Output(std::move(out.read), std::move(err.read));
}

struct Logs::State {
  // Keeps the records a LogReader passes as OutputRecords, for Logs::next().
  class RecordQueue final : public LogSink {
   public:
    void write(LogStream, std::string_view) override {}
    void record(const LogRecord& record, bool, bool) override {
      records.push_back(OutputRecord{record.stream, std::string(record.message), record.partial,
                                     std::string(record.timestamp)});
    }
    std::deque<OutputRecord> records;
  };

  State(const ContainerStore& store, std::string id_, const LogReadOptions& options, bool follow_)
      : store(&store),
        id(std::move(id_)),
        reader(readable_log(store, id), options, queue),
        follow(follow_) {}

  const ContainerStore* store;
  std::string id;
  RecordQueue queue;
  LogReader reader;
  bool follow;
  bool started = false;
  bool stopping = false;  // the container was seen stopped: one more interval, then the end
};

Logs::Logs(const ContainerStore& store, std::string_view ref, LogReadOptions options, bool follow)
    : state_(std::make_unique<State>(store, store.resolve(ref), options, follow)) {}
Logs::Logs(Logs&&) noexcept = default;
Logs& Logs::operator=(Logs&&) noexcept = default;
Logs::~Logs() = default;

const std::string& Logs::id() const noexcept {
  return state_->id;
}

io::Task<std::optional<OutputRecord>> Logs::next(io::Loop& loop) {
  State& s = *state_;
  for (;;) {
    if (!s.queue.records.empty()) {
      OutputRecord record = std::move(s.queue.records.front());
      s.queue.records.pop_front();
      co_return record;
    }
    if (!s.started) {
      s.started = true;
      s.reader.read_existing();
      continue;
    }
    if (!s.follow) {
      co_return std::nullopt;
    }
    if (s.reader.read_new()) {
      continue;
    }
    // As follow_log: once stopped, what it wrote last arrives within an interval.
    if (s.stopping) {
      s.follow = false;
      co_return std::nullopt;
    }
    s.stopping = !container_running(*s.store, s.id);
    co_await io::sleep(loop, kFollowInterval);
  }
}

io::Task<void> copy_logs(io::Loop& loop, const ContainerStore& store, std::string_view ref,
                         const LogReadOptions& options, bool follow, LogSink& sink) {
  const std::string id = store.resolve(ref);
  LogReader reader(readable_log(store, id), options, sink);
  reader.read_existing();
  if (follow) {
    std::function<bool()> running = [&store, &id] { return container_running(store, id); };
    co_await follow_log(loop, reader, std::move(running), kFollowInterval);
  }
}

}  // namespace gctool::container::api
