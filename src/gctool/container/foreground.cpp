#include "gctool/container/foreground.hpp"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <span>

#include "gctool/core/scope_exit.hpp"
#include "gctool/io/poll.hpp"
#include "gctool/io/process.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sleep.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/task.hpp"
#include "gctool/sys/pidfd.hpp"
#include "gctool/sys/pty.hpp"

namespace gctool::container {
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

io::Task<void> relay_stdin(io::Loop& loop, BorrowedFd console) {
  std::array<char, 4096> buffer{};
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
  for (auto waited = 0ms; open != nullptr && *open > 0 && waited < kDrainTimeout; waited += 10ms) {
    co_await io::sleep(loop, 10ms);
  }
  co_return info;
}

}  // namespace

ForegroundOutput::ForegroundOutput(const ContainerStore& store, const Container& container,
                                   const LogOptions& options)
    : log_(container_log_path(store.dir(container.id())), options) {}

void ForegroundOutput::start(Container& container, BorrowedFd stdin_fd) {
  if (container.record().spec.tty) {
    container.start(stdin_fd);
    return;
  }
  out_ = make_pipe();
  err_ = make_pipe();
  std::fflush(stdout);
  std::fflush(stderr);
  const UniqueFd saved_out(check(::fcntl(kStdout, F_DUPFD_CLOEXEC, 3), "dup stdout"));
  const UniqueFd saved_err(check(::fcntl(kStderr, F_DUPFD_CLOEXEC, 3), "dup stderr"));
  const ScopeExit restore([&] {
    ::dup2(saved_out.get(), kStdout);
    ::dup2(saved_err.get(), kStderr);
    // Only the container holds the write ends now: end of file comes when it is gone.
    out_.write.reset();
    err_.write.reset();
  });
  check(::dup2(out_.write.get(), kStdout), "dup2 stdout");
  check(::dup2(err_.write.get(), kStderr), "dup2 stderr");
  container.start(stdin_fd);
}

siginfo_t run_session(BorrowedFd pidfd, BorrowedFd console, BorrowedFd signal_fd,
                      bool forward_stdin, ForegroundOutput* output) {
  std::optional<sys::RawTerminal> raw;
  const bool tty = console.valid();
  if (tty) {
    sys::copy_window_size(BorrowedFd(kStdin), console);
    if (forward_stdin) {
      raw.emplace(BorrowedFd(kStdin));
    }
  }
  io::Loop loop;
  loop.spawn(forward_signals(loop, signal_fd, pidfd, console));
  if (tty && forward_stdin) {
    loop.spawn(relay_stdin(loop, console));
  }
  // A reader of our stdout that has gone must not kill us before the container's exit is
  // recorded (the container has started: it keeps its own SIGPIPE disposition).
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  if (output != nullptr) {
    ::sigaction(SIGPIPE, &ignore, &previous);
  }
  const ScopeExit restore([&] {
    if (output != nullptr) {
      ::sigaction(SIGPIPE, &previous, nullptr);
    }
  });
  const siginfo_t info = io::sync_wait(loop, session(loop, pidfd, console, output));
  loop.cancel_all();
  return info;
}

int run_foreground(Container& container, BorrowedFd signal_fd, bool forward_stdin,
                   ForegroundOutput& output) {
  return container.record_exit(
      run_session(container.pidfd(), container.console(), signal_fd, forward_stdin, &output));
}

}  // namespace gctool::container
