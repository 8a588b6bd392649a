#include "gctool/sys/pty.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "gctool/core/error.hpp"

namespace gctool::sys {

PtyPair open_pty(const char* ptmx) {
  UniqueFd master(check(::open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC), "open \"{}\"", ptmx));
  check(::unlockpt(master.get()), "unlockpt \"{}\"", ptmx);
  UniqueFd slave(check(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC),
                       "open the pty slave of \"{}\"", ptmx));
  return PtyPair{std::move(master), std::move(slave)};
}

void make_controlling_tty(BorrowedFd slave) {
  check(::ioctl(slave.get(), TIOCSCTTY, 0), "ioctl TIOCSCTTY");
  for (int target = 0; target <= 2; ++target) {
    check(::dup2(slave.get(), target), "dup2 pty to fd {}", target);
  }
}

void copy_window_size(BorrowedFd from, BorrowedFd to) noexcept {
  winsize size{};
  if (::ioctl(from.get(), TIOCGWINSZ, &size) == 0) {
    ::ioctl(to.get(), TIOCSWINSZ, &size);
  }
}

RawTerminal::RawTerminal(BorrowedFd fd) : fd_(fd) {
  termios current{};
  if (::tcgetattr(fd.get(), &current) != 0) {
    return;
  }
  saved_ = current;
  ::cfmakeraw(&current);
  check(::tcsetattr(fd.get(), TCSADRAIN, &current), "set the terminal to raw mode");
}

RawTerminal::~RawTerminal() {
  if (saved_) {
    ::tcsetattr(fd_.get(), TCSADRAIN, &*saved_);
  }
}

void send_fd(BorrowedFd socket, BorrowedFd fd) {
  char byte = 'F';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  const int raw = fd.get();
  std::memcpy(CMSG_DATA(cmsg), &raw, sizeof raw);
  while (::sendmsg(socket.get(), &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) {
      throw_errno("send fd over socket");
    }
  }
}

std::optional<UniqueFd> receive_fd(BorrowedFd socket) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = 0;
  while ((n = ::recvmsg(socket.get(), &msg, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) {
      throw_errno("receive fd over socket");
    }
  }
  if (n == 0) {
    return std::nullopt;
  }
  const cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if (cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS) {
    throw Error(EBADMSG, "receive fd over socket: no fd in the message");
  }
  int raw = -1;
  std::memcpy(&raw, CMSG_DATA(cmsg), sizeof raw);
  return UniqueFd(raw);
}

}  // namespace gctool::sys
