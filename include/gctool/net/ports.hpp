// Published ports: Docker's -p syntax and the checks that a host port is free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gctool/net/ipv4.hpp"

namespace gctool::net {

enum class Protocol { tcp, udp };

std::string_view to_string(Protocol protocol);

struct PortMapping {
  std::optional<Ipv4Address> host_ip;  // nullopt: every address of the host (0.0.0.0)
  std::uint16_t host_port = 0;         // 0: a free port chosen at attach time
  std::uint16_t container_port = 0;
  Protocol protocol = Protocol::tcp;

  friend bool operator==(const PortMapping&, const PortMapping&) = default;
};

// One -p/--publish value: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp] or CTRPORT[/tcp|/udp] (random host
// port). Throws an invalid-input Error such as `invalid --publish "80:x": bad port "x"`.
PortMapping parse_publish(std::string_view spec);

// "0.0.0.0:8080->80/tcp", as docker ps shows it.
std::string to_string(const PortMapping& mapping);

// Two mappings that cannot both exist: same protocol and host port, and host addresses that
// overlap (equal, or either one "all addresses").
bool conflicts(const PortMapping& a, const PortMapping& b);

// True when a socket of that protocol can bind host_ip:host_port now, i.e. no host process holds
// it. (SO_REUSEADDR, so connections in TIME_WAIT do not count.)
bool host_port_bindable(const PortMapping& mapping);

// A free host port for the protocol, chosen by the kernel (bind to port 0).
std::uint16_t pick_free_host_port(const PortMapping& mapping);

}  // namespace gctool::net
