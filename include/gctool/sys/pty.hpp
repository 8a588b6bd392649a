// Pseudo-terminals for `run -t`: opening a pair, passing the master between processes, putting the
// caller's terminal in raw mode for the time of the session, and following its size.
#pragma once

#include <termios.h>

#include <optional>

#include "gctool/core/fd.hpp"

namespace gctool::sys {

struct PtyPair {
  UniqueFd master;
  UniqueFd slave;
};

// Opens a new pty from the multiplexer `ptmx` (e.g. a container's /dev/ptmx) and its slave through
// TIOCGPTPEER, so no path under /dev/pts is looked up. Both fds are close-on-exec, no controlling
// tty.
PtyPair open_pty(const char* ptmx = "/dev/ptmx");

// Makes the slave fd the calling process's controlling terminal and its stdin/stdout/stderr.
// The caller must be a session leader (setsid).
void make_controlling_tty(BorrowedFd slave);

// Copies the window size of `from` (the caller's terminal) to `to` (a pty master). Does nothing
// when `from` is not a terminal.
void copy_window_size(BorrowedFd from, BorrowedFd to) noexcept;

// Puts a terminal into raw mode and restores its previous attributes on destruction.
class RawTerminal {
 public:
  // Raw mode on fd when it is a terminal; otherwise a no-op object.
  explicit RawTerminal(BorrowedFd fd);
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal();

 private:
  BorrowedFd fd_;
  std::optional<termios> saved_;
};

// Sends fd over a unix socket (SCM_RIGHTS) with a one-byte payload.
void send_fd(BorrowedFd socket, BorrowedFd fd);

// Receives one fd sent by send_fd; nullopt when the peer closed the socket. The fd is
// close-on-exec.
std::optional<UniqueFd> receive_fd(BorrowedFd socket);

}  // namespace gctool::sys
