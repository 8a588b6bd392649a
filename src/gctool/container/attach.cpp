// The supervisor's side of the attach socket; compiled into gctool-supervisor, so it uses only
// the loop, the fd types and the pidfd helpers.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <string>

#include "gctool/container/attach.hpp"
#include "gctool/core/error.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/socket.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::container {
namespace {

// Packets larger than this are split: a unix SEQPACKET message must fit the socket's buffer.
constexpr std::size_t kMaxPayload = 32 * 1024;

// Fills addr with "/proc/self/fd/<dirfd>/attach" and returns its length.
socklen_t socket_address(sockaddr_un& addr, BorrowedFd dir) {
  addr = {};
  addr.sun_family = AF_UNIX;
  const int n =
      std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach", dir.get());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + static_cast<std::size_t>(n) + 1);
}

int parse_int(std::string_view text) {
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

struct AttachServer::Client {
  UniqueFd fd;
  io::SpawnId reader{};
  bool gone = false;
};

std::filesystem::path attach_socket_path(const std::filesystem::path& container_dir) {
  return container_dir / "attach";
}

UniqueFd listen_attach_socket(const std::filesystem::path& container_dir) {
  const UniqueFd dir(check(::open(container_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC),
                           "open {}", container_dir.string()));
  ::unlinkat(dir.get(), "attach", 0);
  UniqueFd sock(check(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr{};
  const socklen_t len = socket_address(addr, dir.borrow());
  check(::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), len), "bind {}",
        attach_socket_path(container_dir).string());
  // Only root (the owner of the state directory) may attach.
  ::fchmodat(dir.get(), "attach", 0600, 0);
  check(::listen(sock.get(), 16), "listen on the attach socket");
  return sock;
}

AttachServer::AttachServer(UniqueFd listener, UniqueFd input, bool tty, BorrowedFd pidfd)
    : listener_(std::move(listener)), input_(std::move(input)), tty_(tty), pidfd_(pidfd) {}

AttachServer::~AttachServer() {
  if (loop_ != nullptr) {
    loop_->cancel(acceptor_);
    for (const auto& client : clients_) {
      loop_->cancel(client->reader);
    }
  }
}

void AttachServer::serve(io::Loop& loop) {
  if (!listener_) {
    return;
  }
  loop_ = &loop;
  // Clients already waiting (`run -it` connects before the start) are taken in now, before any
  // output is read, so that they see all of it.
  for (pollfd pending{listener_.get(), POLLIN, 0}; ::poll(&pending, 1, 0) == 1;) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) {
      break;
    }
    add_client(loop, std::move(fd));
  }
  acceptor_ = loop.spawn(accept_loop(loop));
}

io::Task<void> AttachServer::accept_loop(io::Loop& loop) {
  for (;;) {
    add_client(loop, co_await io::accept(loop, listener_.borrow()));
  }
}

void AttachServer::add_client(io::Loop& loop, UniqueFd fd) {
  auto client = std::make_shared<Client>();
  client->fd = std::move(fd);
  clients_.push_back(client);
  client->reader = loop.spawn(read_client(loop, client));
}

io::Task<void> AttachServer::read_client(io::Loop& loop, std::shared_ptr<Client> client) {
  std::string buffer(kMaxPayload + 1, '\0');
  while (!client->gone) {
    std::size_t n = 0;
    try {
      n = co_await io::read(loop, client->fd.borrow(), std::span<char>(buffer));
    } catch (const Error&) {
      break;
    }
    if (n == 0) {
      break;
    }
    const std::string_view payload(buffer.data() + 1, n - 1);
    switch (static_cast<AttachPacket>(buffer[0])) {
      case AttachPacket::Stdin:
        if (input_) {
          try {
            co_await io::write_all(loop, input_.borrow(), payload);
          } catch (const Error&) {
            // The container closed its stdin: what is typed goes nowhere, as with Docker.
          }
        }
        break;
      case AttachPacket::CloseStdin:
        if (!tty_) {
          input_.reset();
        }
        break;
      case AttachPacket::Resize:
        if (tty_) {
          winsize size{};
          const auto space = payload.find(' ');
          size.ws_row = static_cast<unsigned short>(parse_int(payload.substr(0, space)));
          size.ws_col = static_cast<unsigned short>(
              parse_int(space == std::string_view::npos ? "" : payload.substr(space + 1)));
          ::ioctl(input_.get(), TIOCSWINSZ, &size);
        }
        break;
      case AttachPacket::Signal:
        if (const int signo = parse_int(payload); signo > 0 && signo < NSIG) {
          sys::pidfd_signal(pidfd_, signo);
        }
        break;
      default:
        break;
    }
  }
  client->gone = true;
  std::erase(clients_, client);
}

io::Task<void> AttachServer::send(io::Loop& loop, const std::shared_ptr<Client>& client,
                                  AttachPacket kind, std::string_view data) {
  std::string packet;
  do {
    const auto part = data.substr(0, kMaxPayload);
    data.remove_prefix(part.size());
    packet.assign(1, static_cast<char>(kind));
    packet.append(part);
    try {
      co_await io::write_all(loop, client->fd.borrow(), packet);
    } catch (const Error&) {
      // Gone (EPIPE): its reader sees the end and forgets it.
      client->gone = true;
      ::shutdown(client->fd.get(), SHUT_RDWR);
      co_return;
    }
  } while (!data.empty());
}

io::Task<void> AttachServer::broadcast(io::Loop& loop, LogStream stream, std::string_view data) {
  if (clients_.empty()) {
    co_return;
  }
  const auto kind = stream == LogStream::Stderr ? AttachPacket::Stderr : AttachPacket::Stdout;
  // A copy: clients come and go while this waits on a slow one.
  const auto clients = clients_;
  for (const auto& client : clients) {
    if (!client->gone) {
      co_await send(loop, client, kind, data);
    }
  }
}

io::Task<void> AttachServer::finish(io::Loop& loop, int exit_code) {
  if (loop_ != nullptr) {
    loop_->cancel(acceptor_);
  }
  listener_.reset();
  const auto clients = clients_;
  for (const auto& client : clients) {
    if (!client->gone) {
      co_await send(loop, client, AttachPacket::Exit, std::to_string(exit_code));
      client->gone = true;
      ::shutdown(client->fd.get(), SHUT_RDWR);
    }
  }
}

}  // namespace gctool::container
