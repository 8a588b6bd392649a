#include "gctool/net/ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::net {
namespace {

std::uint16_t parse_port(std::string_view spec, std::string_view text, bool allow_zero) {
  unsigned value = 0;
  const auto [next, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || next != text.data() + text.size() || value > 65535 ||
      (value == 0 && !allow_zero)) {
    throw_invalid("invalid --publish \"{}\": bad port \"{}\" (1-65535)", spec, text);
  }
  return static_cast<std::uint16_t>(value);
}

UniqueFd bind_socket(const PortMapping& m) {
  const int type = m.protocol == Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM;
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) {
    throw_errno("create a socket to probe port {}", m.host_port);
  }
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(m.host_port);
  a.sin_addr.s_addr = htonl(m.host_ip ? m.host_ip->value : INADDR_ANY);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno == EADDRINUSE) {
      return UniqueFd();
    }
    // Not "in use": an address the host does not have (or whose interface is down), say.
    throw_invalid("cannot publish port {}:{}/{} on the host: {}",
                  m.host_ip ? to_string(*m.host_ip) : "0.0.0.0", m.host_port, to_string(m.protocol),
                  std::strerror(errno));
  }
  return fd;
}

}  // namespace

std::string_view to_string(Protocol protocol) {
  return protocol == Protocol::tcp ? "tcp" : "udp";
}

PortMapping parse_publish(std::string_view spec) {
  PortMapping m;
  std::string_view rest = spec;
  if (const auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    const auto proto = rest.substr(slash + 1);
    if (proto == "tcp") {
      m.protocol = Protocol::tcp;
    } else if (proto == "udp") {
      m.protocol = Protocol::udp;
    } else {
      throw_invalid("invalid --publish \"{}\": protocol must be tcp or udp", spec);
    }
    rest = rest.substr(0, slash);
  }
  std::vector<std::string_view> parts;
  while (true) {
    const auto colon = rest.find(':');
    parts.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(colon + 1);
  }
  if (parts.size() > 3) {
    throw_invalid("invalid --publish \"{}\": expected [HOSTIP:]HOSTPORT:CTRPORT[/PROTO]", spec);
  }
  m.container_port = parse_port(spec, parts.back(), false);
  if (parts.size() >= 2) {
    // "HOSTIP::CTRPORT" leaves the host port empty: a random one, as Docker does.
    const auto host_port = parts[parts.size() - 2];
    m.host_port = host_port.empty() ? 0 : parse_port(spec, host_port, false);
  }
  if (parts.size() == 3 && !parts[0].empty() && parts[0] != "0.0.0.0") {
    const auto ip = try_parse_ipv4(parts[0]);
    if (!ip) {
      throw_invalid("invalid --publish \"{}\": \"{}\" is not an IPv4 address", spec, parts[0]);
    }
    m.host_ip = *ip;
  }
  return m;
}

std::string to_string(const PortMapping& m) {
  return fmt::format("{}:{}->{}/{}", m.host_ip ? to_string(*m.host_ip) : "0.0.0.0", m.host_port,
                     m.container_port, to_string(m.protocol));
}

bool conflicts(const PortMapping& a, const PortMapping& b) {
  return a.protocol == b.protocol && a.host_port == b.host_port && a.host_port != 0 &&
         (!a.host_ip || !b.host_ip || *a.host_ip == *b.host_ip);
}

bool host_port_bindable(const PortMapping& mapping) {
  return bind_socket(mapping).valid();
}

std::uint16_t pick_free_host_port(const PortMapping& mapping) {
  PortMapping probe = mapping;
  probe.host_port = 0;
  const auto fd = bind_socket(probe);
  if (!fd) {
    throw_errno("find a free {} port", to_string(mapping.protocol));
  }
  sockaddr_in a{};
  socklen_t len = sizeof a;
  check(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), "getsockname");
  return ntohs(a.sin_port);
}

}  // namespace gctool::net
