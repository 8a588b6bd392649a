// Published ports on [::1]: a small userland proxy on the io_uring loop, as Docker's docker-proxy.
//
// The firewall cannot serve [::1]:PORT (see firewall.hpp: the kernel drops a packet whose source
// is ::1 on any link but lo, and IPv6 has no route_localnet), so the container's owner (the
// supervisor, or the CLI of a foreground run) listens there itself and relays each connection to
// the container's address: its IPv6 one when it has one, else its IPv4 one. The listening socket
// is opened before the container is released, so a port taken on [::1] fails the start; it lives
// in the owner, so the proxy ends with the container on every path (the owner stops it when pid 1
// exits, and a killed owner takes its sockets with it).
//
// Only core/ and io/: gctool-supervisor links this file alone.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/core/fd.hpp"
#include "gctool/io/loop.hpp"

namespace gctool::net {

struct ProxyListener {
  UniqueFd listener;  // a listening TCP socket on [::1]:PORT
  sockaddr_storage target{};
  socklen_t target_length = 0;
};

// A listening TCP socket on [::1]:port (close-on-exec). An invalid fd when the host has no IPv6
// loopback (IPv6 disabled); throws `listen on [::1]:8080: Address already in use` when it is taken.
UniqueFd listen_ipv6_loopback(std::uint16_t port);

// The target "ADDRESS" (IPv4 or IPv6, no brackets) and port as a socket address; throws an
// invalid-input Error for an address that does not parse.
void set_proxy_target(ProxyListener& proxy, const std::string& address, std::uint16_t port);

// "FD/ADDRESS/PORT": how a supervisor hands a listener to gctool-supervisor (the fd is inherited).
std::string to_argument(const ProxyListener& proxy);
// Takes ownership of the fd; throws an invalid-input Error for text that does not parse.
ProxyListener parse_proxy_argument(std::string_view text);

// Relays connections accepted on the listeners to their targets, on the loop, until stop().
class PortProxy {
 public:
  PortProxy() = default;
  explicit PortProxy(std::vector<ProxyListener> listeners);
  PortProxy(PortProxy&&) noexcept = default;
  PortProxy& operator=(PortProxy&&) noexcept = default;
  ~PortProxy();

  // Spawns one accept task per listener; each connection becomes a task of its own.
  void start(io::Loop& loop);
  // Closes the listeners (the port is free again at once) and ends every connection: the tasks
  // finish on the loop's next iterations. Also done by the destructor.
  void stop() noexcept;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace gctool::net
