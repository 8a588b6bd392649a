// Typed rtnetlink operations on links, addresses and routes: what gctool needs to build a bridge
// network and plug a container into it. Every error names the operation and the link, e.g.
// `add address 10.1.0.1/24 to "gct-3f2a": File exists`.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/core/fd.hpp"
#include "gctool/net/ipv4.hpp"
#include "gctool/net/ipv6.hpp"
#include "gctool/net/netlink.hpp"

namespace gctool::net {

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};
  friend bool operator==(const MacAddress&, const MacAddress&) = default;
};

// "02:42:0a:01:00:02"; throws `invalid MAC address "x"`.
MacAddress parse_mac(std::string_view text);
std::string to_string(const MacAddress& mac);
// Docker's scheme: 02:42 followed by the IPv4 address, locally administered and unicast.
MacAddress mac_for(Ipv4Address address);

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // "bridge", "veth", "" for a physical or loopback link
  int master = 0;    // ifindex of the bridge this link is a port of, 0 when none
  bool up = false;   // administratively up (IFF_UP)
  std::optional<MacAddress> mac;
};

struct RouteInfo {
  Ipv4Network destination;  // 0.0.0.0/0 for a default route
  std::optional<Ipv4Address> gateway;
  int oif = 0;
  std::uint32_t table = 0;
};

// Link names are at most 15 bytes (IFNAMSIZ - 1); longer names throw an invalid-input Error.
void check_link_name(std::string_view name);

std::vector<LinkInfo> list_links(Netlink& nl);
std::optional<LinkInfo> find_link(Netlink& nl, std::string_view name);
// The ifindex of a link; throws Error(ENODEV) `find link "x": No such device`.
int link_index(Netlink& nl, std::string_view name);

void create_bridge(Netlink& nl, std::string_view name);
// A veth pair, both ends in the socket's namespace.
void create_veth(Netlink& nl, std::string_view name, std::string_view peer_name);
void set_link_up(Netlink& nl, std::string_view name);
void set_link_master(Netlink& nl, std::string_view name, std::string_view bridge);
void set_link_mac(Netlink& nl, std::string_view name, const MacAddress& mac);
void rename_link(Netlink& nl, std::string_view name, std::string_view new_name);
void move_link_to_netns(Netlink& nl, std::string_view name, BorrowedFd netns);
void move_link_to_netns(Netlink& nl, std::string_view name, pid_t pid);
void add_address(Netlink& nl, std::string_view name, Ipv4Address address, int prefix);
// An IPv6 address without duplicate address detection (IFA_F_NODAD): usable at once, where DAD
// would keep it tentative (unusable) for a second or more. gctool's IPAM keeps it unique.
void add_address(Netlink& nl, std::string_view name, const Ipv6Address& address, int prefix);
// A default route through gateway (the kernel picks the link whose subnet holds it).
void add_default_route(Netlink& nl, Ipv4Address gateway);
void add_default_route(Netlink& nl, const Ipv6Address& gateway);
void delete_link(Netlink& nl, std::string_view name);
// As delete_link, but false when the link does not exist.
bool try_delete_link(Netlink& nl, std::string_view name);

// IPv4 routes of every table except `local` (the routes that tell which subnets the host uses).
std::vector<RouteInfo> list_routes(Netlink& nl);

}  // namespace gctool::net
