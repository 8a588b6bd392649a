#include "gctool/net/port_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <cstring>
#include <unordered_set>

#include "gctool/core/error.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sleep.hpp"
#include "gctool/io/socket.hpp"
#include "gctool/io/task.hpp"
#include "gctool/io/when_all.hpp"

namespace gctool::net {

// Per direction of a connection: small, since each live connection holds two.
constexpr std::size_t kProxyBuffer = 16 * 1024;

struct PortProxy::State {
  std::vector<ProxyListener> listeners;
  // The sockets of the live connections, which stop() shuts down.
  std::unordered_set<int> open;
  bool stopped = false;
};

namespace {

using State = PortProxy::State;
using namespace std::chrono_literals;

// While alive, stop() can end the connection's sockets.
class OpenConnection {
 public:
  OpenConnection(State& state, BorrowedFd client, BorrowedFd upstream)
      : state_(state), client_(client.get()), upstream_(upstream.get()) {
    state_.open.insert(client_);
    state_.open.insert(upstream_);
  }
  OpenConnection(const OpenConnection&) = delete;
  OpenConnection& operator=(const OpenConnection&) = delete;
  ~OpenConnection() {
    state_.open.erase(client_);
    state_.open.erase(upstream_);
  }

 private:
  State& state_;
  int client_;
  int upstream_;
};

// One direction until end of file, which is passed on as a half close; a reset or error on
// either side ends both directions.
io::Task<void> pump(io::Loop& loop, BorrowedFd from, BorrowedFd to) {
  std::array<std::byte, kProxyBuffer> buffer;
  bool failed = false;
  try {
    for (;;) {
      const std::size_t n = co_await io::read(loop, from, buffer);
      if (n == 0) {
        break;
      }
      co_await io::write_all(loop, to, std::span<const std::byte>(buffer.data(), n));
    }
  } catch (const Error&) {
    failed = true;
  }
  if (failed) {
    ::shutdown(from.get(), SHUT_RDWR);
    ::shutdown(to.get(), SHUT_RDWR);
  } else {
    ::shutdown(to.get(), SHUT_WR);
  }
}

io::Task<void> relay(io::Loop& loop, std::shared_ptr<State> state, UniqueFd client,
                     const ProxyListener& proxy) {
  UniqueFd upstream(::socket(proxy.target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!upstream.valid() || state->stopped) {
    co_return;
  }
  const OpenConnection open(*state, client.borrow(), upstream.borrow());
  try {
    co_await io::connect(loop, upstream.borrow(), reinterpret_cast<const sockaddr*>(&proxy.target),
                         proxy.target_length);
  } catch (const Error&) {
    // Nothing listens in the container: the client sees its connection closed.
    co_return;
  }
  std::vector<io::Task<void>> both;
  both.push_back(pump(loop, client.borrow(), upstream.borrow()));
  both.push_back(pump(loop, upstream.borrow(), client.borrow()));
  co_await io::when_all(std::move(both));
}

io::Task<void> accept_loop(io::Loop& loop, std::shared_ptr<State> state, std::size_t index) {
  const ProxyListener& proxy = state->listeners[index];
  while (!state->stopped) {
    UniqueFd client;
    int error = 0;
    try {
      client = co_await io::accept(loop, proxy.listener.borrow());
    } catch (const Error& e) {
      error = e.code().value();
    }
    if (state->stopped) {
      break;
    }
    if (client.valid()) {
      loop.spawn(relay(loop, state, std::move(client), proxy));
    } else if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
      // Out of descriptors or memory: the connection waits in the backlog meanwhile.
      co_await io::sleep(loop, 100ms);
    } else if (error != ECONNABORTED && error != EINTR) {
      break;
    }
  }
}

}  // namespace

UniqueFd listen_ipv6_loopback(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    if (errno == EAFNOSUPPORT) {
      return fd;
    }
    throw_errno("listen on [::1]:{}: socket", port);
  }
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(port);
  address.sin6_addr = in6addr_loopback;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno == EADDRNOTAVAIL) {
      return UniqueFd();  // no ::1 on lo
    }
    throw_errno("listen on [::1]:{}", port);
  }
  check(::listen(fd.get(), SOMAXCONN), "listen on [::1]:{}", port);
  return fd;
}

void set_proxy_target(ProxyListener& proxy, const std::string& address, std::uint16_t port) {
  proxy.target = {};
  if (address.find(':') != std::string::npos) {
    auto& a = reinterpret_cast<sockaddr_in6&>(proxy.target);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    if (::inet_pton(AF_INET6, address.c_str(), &a.sin6_addr) != 1) {
      throw_invalid("proxy target \"{}\" is not an address", address);
    }
    proxy.target_length = sizeof a;
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(proxy.target);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) {
      throw_invalid("proxy target \"{}\" is not an address", address);
    }
    proxy.target_length = sizeof a;
  }
}

std::string to_argument(const ProxyListener& proxy) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  std::uint16_t port = 0;
  if (proxy.target.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(proxy.target);
    ::inet_ntop(AF_INET6, &a.sin6_addr, text.data(), text.size());
    port = ntohs(a.sin6_port);
  } else {
    const auto& a = reinterpret_cast<const sockaddr_in&>(proxy.target);
    ::inet_ntop(AF_INET, &a.sin_addr, text.data(), text.size());
    port = ntohs(a.sin_port);
  }
  return std::to_string(proxy.listener.get()) + "/" + text.data() + "/" + std::to_string(port);
}

ProxyListener parse_proxy_argument(std::string_view text) {
  const auto first = text.find('/');
  const auto last = text.rfind('/');
  int fd = -1;
  std::uint16_t port = 0;
  const auto number = [](std::string_view s, auto& value) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    return ec == std::errc() && end == s.data() + s.size();
  };
  if (first == std::string_view::npos || first == last || !number(text.substr(0, first), fd) ||
      fd < 0 || !number(text.substr(last + 1), port)) {
    throw_invalid("supervisor: bad --proxy \"{}\"", text);
  }
  ProxyListener proxy;
  set_proxy_target(proxy, std::string(text.substr(first + 1, last - first - 1)), port);
  proxy.listener = UniqueFd(fd);
  return proxy;
}

PortProxy::PortProxy(std::vector<ProxyListener> listeners) : state_(std::make_shared<State>()) {
  state_->listeners = std::move(listeners);
}

PortProxy::~PortProxy() {
  stop();
}

void PortProxy::start(io::Loop& loop) {
  if (!state_) {
    return;
  }
  for (std::size_t i = 0; i < state_->listeners.size(); ++i) {
    loop.spawn(accept_loop(loop, state_, i));
  }
}

void PortProxy::stop() noexcept {
  if (!state_ || state_->stopped) {
    return;
  }
  state_->stopped = true;
  // A listening socket shut down stops listening at once (the port is free) and its pending
  // accept fails, which ends the accept task; the connections' reads end the same way.
  for (const auto& proxy : state_->listeners) {
    ::shutdown(proxy.listener.get(), SHUT_RDWR);
  }
  for (const int fd : state_->open) {
    ::shutdown(fd, SHUT_RDWR);
  }
}

}  // namespace gctool::net
