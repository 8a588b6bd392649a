// The client's side of the attach socket (`attach`): relays the terminal to the container's
// supervisor on an io_uring loop of its own.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <optional>

#include "gctool/container/attach.hpp"
#include "gctool/core/error.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/signals.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/sys/pty.hpp"

namespace gctool::container {
namespace {

constexpr int kStdin = 0;
constexpr int kStdout = 1;
constexpr int kStderr = 2;

}  // namespace

UniqueFd connect_attach_socket(const std::filesystem::path& container_dir) {
  const int dir = ::open(container_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    throw_invalid("You cannot attach to a stopped container, start it first");
  }
  const UniqueFd dir_fd(dir);
  UniqueFd sock(check(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const int n = std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach", dir);
  const auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + static_cast<std::size_t>(n) + 1);
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) {
      throw_invalid("You cannot attach to a stopped container, start it first");
    }
    throw_errno("connect to {}", attach_socket_path(container_dir).string());
  }
  return sock;
}

namespace {

std::string packet(AttachPacket kind, std::string_view payload) {
  std::string text(1, static_cast<char>(kind));
  text.append(payload);
  return text;
}

std::string window_size_of(BorrowedFd terminal) {
  winsize size{};
  if (::ioctl(terminal.get(), TIOCGWINSZ, &size) != 0) {
    return {};
  }
  return std::to_string(size.ws_row) + " " + std::to_string(size.ws_col);
}

struct Session {
  BorrowedFd sock;
  bool show_out = true;
  bool show_err = true;
  bool done = false;
  bool detached = false;
  std::optional<int> exit_code;
};

io::Task<void> relay_output(io::Loop& loop, Session& session) {
  std::string buffer(64 * 1024 + 1, '\0');
  for (;;) {
    std::size_t n = 0;
    try {
      n = co_await io::read(loop, session.sock, std::span<char>(buffer));
    } catch (const Error&) {
      break;
    }
    if (n == 0) {
      break;
    }
    const std::string_view payload(buffer.data() + 1, n - 1);
    const auto kind = static_cast<AttachPacket>(buffer[0]);
    if (kind == AttachPacket::Exit) {
      session.exit_code = std::stoi(std::string(payload));
      break;
    }
    const bool err = kind == AttachPacket::Stderr;
    if (!(err ? session.show_err : session.show_out)) {
      continue;
    }
    const int to = err ? kStderr : kStdout;
    try {
      co_await io::write_all(loop, BorrowedFd(to), payload);
    } catch (const Error&) {
      // Our reader has gone: the container's output still drains to the log.
    }
  }
  session.done = true;
}

io::Task<void> relay_input(io::Loop& loop, Session& session, std::string keys, bool eof_ends_input,
                           bool tty) {
  DetachKeys detach(std::move(keys));
  std::array<char, 4096> buffer{};
  for (;;) {
    const std::size_t n = co_await io::read(loop, BorrowedFd(kStdin), buffer);
    if (n == 0) {
      // End of input: with `attach` the container's stdin stays open for the next attach, as
      // with Docker's `run -d -i` (no StdinOnce); the output goes on until the exit.
      if (eof_ends_input) {
        const std::string end =
            tty ? packet(AttachPacket::Stdin, "\x04") : packet(AttachPacket::CloseStdin, "");
        co_await io::write_all(loop, session.sock, end);
      }
      co_return;
    }
    const std::string pass = detach.feed(std::string_view(buffer.data(), n));
    if (!pass.empty()) {
      co_await io::write_all(loop, session.sock, packet(AttachPacket::Stdin, pass));
    }
    if (detach.detached()) {
      session.detached = true;
      session.done = true;
      co_return;
    }
  }
}

io::Task<void> relay_signals(io::Loop& loop, Session& session, io::SignalSet& signals, bool tty) {
  for (;;) {
    const auto info = co_await signals.next(loop);
    const int signo = static_cast<int>(info.ssi_signo);
    if (signo == SIGWINCH) {
      if (tty) {
        co_await io::write_all(loop, session.sock,
                               packet(AttachPacket::Resize, window_size_of(BorrowedFd(kStdin))));
      }
      continue;
    }
    co_await io::write_all(loop, session.sock, packet(AttachPacket::Signal, std::to_string(signo)));
  }
}

}  // namespace

std::string parse_detach_keys(std::string_view text) {
  std::string keys;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto key = rest.substr(0, comma);
    if (key.size() == 1) {
      keys.push_back(key[0]);
    } else if (key.size() == 6 && key.starts_with("ctrl-")) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(key[5])));
      if (c >= 'a' && c <= 'z') {
        keys.push_back(static_cast<char>(c - 'a' + 1));
      } else if (c == '@' || c == '[' || c == '\\' || c == ']' || c == '^' || c == '_') {
        keys.push_back(static_cast<char>(c - '@'));
      } else {
        throw_invalid("Invalid detach keys ({}) provided", text);
      }
    } else {
      throw_invalid("Invalid detach keys ({}) provided", text);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(comma + 1);
  }
  return keys;
}

std::string DetachKeys::feed(std::string_view input) {
  std::string pass;
  for (const char c : input) {
    if (detached_ || keys_.empty()) {
      if (!detached_) {
        pass.push_back(c);
      }
      continue;
    }
    if (c != keys_[matched_]) {
      // Not the sequence after all: what was held back goes on, and c may start it again.
      pass.append(keys_, 0, matched_);
      matched_ = 0;
      if (c != keys_[0]) {
        pass.push_back(c);
        continue;
      }
    }
    if (++matched_ == keys_.size()) {
      detached_ = true;
    }
  }
  return pass;
}

std::optional<int> attach_session(const std::filesystem::path& container_dir, bool tty,
                                  bool open_stdin, const AttachOptions& options) {
  return attach_session(connect_attach_socket(container_dir), tty, open_stdin, options);
}

std::optional<int> attach_session(UniqueFd sock, bool tty, bool open_stdin,
                                  const AttachOptions& options) {
  // Blocked before the loop runs, so that none is lost or kills us; as Docker, signals are not
  // proxied to a container with a tty (the terminal sends ^C as a byte).
  std::optional<io::SignalSet> signals;
  if (options.sig_proxy && !tty) {
    signals.emplace(std::initializer_list<int>{SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2});
  } else if (tty) {
    signals.emplace(std::initializer_list<int>{SIGWINCH});
  }
  const bool input = options.stdin && open_stdin;
  std::optional<sys::RawTerminal> raw;
  if (tty && input) {
    raw.emplace(BorrowedFd(kStdin));
  }
  Session session;
  session.sock = sock.borrow();
  session.show_out = options.show_out;
  session.show_err = options.show_err;
  io::Loop loop;
  if (tty) {
    if (auto size = window_size_of(BorrowedFd(kStdin)); !size.empty()) {
      io::sync_wait(loop, io::write_all(loop, sock.borrow(), packet(AttachPacket::Resize, size)));
    }
  }
  loop.spawn(relay_output(loop, session));
  if (input) {
    loop.spawn(relay_input(loop, session, tty ? options.detach_keys : std::string(),
                           options.eof_ends_input, tty));
  }
  if (signals) {
    loop.spawn(relay_signals(loop, session, *signals, tty));
  }
  loop.run_until([&] { return session.done; });
  loop.cancel_all();
  if (session.detached) {
    return std::nullopt;
  }
  return session.exit_code.value_or(0);
}

}  // namespace gctool::container
