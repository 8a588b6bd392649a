#include "gctool/container/foreground.hpp"

#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <array>

#include "gctool/io/poll.hpp"
#include "gctool/io/process.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/task.hpp"
#include "gctool/sys/pidfd.hpp"
#include "gctool/sys/pty.hpp"

namespace gctool::container {
namespace {

constexpr int kStdin = 0;
constexpr int kStdout = 1;

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
io::Task<void> relay_console(io::Loop& loop, BorrowedFd console) {
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
    co_await io::write_all(loop, BorrowedFd(kStdout), std::string_view(buffer.data(), n));
  }
}

io::Task<siginfo_t> session(io::Loop& loop, BorrowedFd pidfd, BorrowedFd console) {
  if (console.valid()) {
    co_await relay_console(loop, console);
  }
  co_return co_await io::wait_exit(loop, pidfd);
}

}  // namespace

siginfo_t run_session(BorrowedFd pidfd, BorrowedFd console, BorrowedFd signal_fd,
                      bool forward_stdin) {
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
  const siginfo_t info = io::sync_wait(loop, session(loop, pidfd, console));
  loop.cancel_all();
  return info;
}

int run_foreground(Container& container, BorrowedFd signal_fd, bool forward_stdin) {
  return container.record_exit(
      run_session(container.pidfd(), container.console(), signal_fd, forward_stdin));
}

}  // namespace gctool::container
