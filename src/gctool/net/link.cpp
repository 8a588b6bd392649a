#include "gctool/net/link.hpp"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if_arp.h>

#include <cstring>

#include "gctool/core/error.hpp"

namespace gctool::net {
namespace {

ifinfomsg link_header(int index = 0) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  return ifi;
}

std::string_view attr_string(std::string_view value) {
  return value.substr(0, strnlen(value.data(), value.size()));
}

template <typename T>
T attr_value(std::string_view value) {
  T v{};
  std::memcpy(&v, value.data(), std::min(sizeof v, value.size()));
  return v;
}

void create_link(Netlink& nl, std::string_view name, std::string_view kind,
                 std::string_view peer_name, std::string_view what) {
  check_link_name(name);
  NetlinkRequest req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.put_header(link_header());
  req.add_string(IFLA_IFNAME, name);
  const auto linkinfo = req.begin_nested(IFLA_LINKINFO);
  req.add_string(IFLA_INFO_KIND, kind);
  if (!peer_name.empty()) {
    check_link_name(peer_name);
    const auto data = req.begin_nested(IFLA_INFO_DATA);
    const auto peer = req.begin_nested(VETH_INFO_PEER);
    req.put_header(link_header());
    req.add_string(IFLA_IFNAME, peer_name);
    req.end_nested(peer);
    req.end_nested(data);
  }
  req.end_nested(linkinfo);
  nl.execute(req, what);
}

}  // namespace

void check_link_name(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string_view::npos ||
      name.find_first_of(" \t\n:") != std::string_view::npos) {
    throw_invalid("invalid link name \"{}\": 1 to 15 characters, no '/', ':' or spaces", name);
  }
}

MacAddress parse_mac(std::string_view text) {
  MacAddress mac;
  unsigned b[6];
  char tail = 0;
  const std::string s(text);
  if (text.size() != 17 || std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
                                       &b[3], &b[4], &b[5], &tail) != 6) {
    throw_invalid("invalid MAC address \"{}\"", text);
  }
  for (int i = 0; i < 6; ++i) {
    mac.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(b[i]);
  }
  if ((mac.bytes[0] & 1) != 0) {
    throw_invalid("invalid MAC address \"{}\": multicast", text);
  }
  return mac;
}

std::string to_string(const MacAddress& mac) {
  const auto& b = mac.bytes;
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4],
                     b[5]);
}

MacAddress mac_for(Ipv4Address address) {
  return MacAddress{{0x02, 0x42, static_cast<std::uint8_t>(address.value >> 24),
                     static_cast<std::uint8_t>(address.value >> 16),
                     static_cast<std::uint8_t>(address.value >> 8),
                     static_cast<std::uint8_t>(address.value)}};
}

std::vector<LinkInfo> list_links(Netlink& nl) {
  NetlinkRequest req(RTM_GETLINK, 0);
  req.put_header(link_header());
  std::vector<LinkInfo> links;
  for (const auto& msg : nl.dump(req, "list links")) {
    if (msg.size() < sizeof(ifinfomsg)) {
      continue;
    }
    const auto ifi = attr_value<ifinfomsg>(msg);
    LinkInfo link;
    link.index = ifi.ifi_index;
    link.up = (ifi.ifi_flags & IFF_UP) != 0;
    const auto attrs = parse_attributes(std::string_view(msg).substr(NLMSG_ALIGN(sizeof ifi)));
    if (const auto it = attrs.find(IFLA_IFNAME); it != attrs.end()) {
      link.name = attr_string(it->second);
    }
    if (const auto it = attrs.find(IFLA_MASTER); it != attrs.end()) {
      link.master = attr_value<int>(it->second);
    }
    if (const auto it = attrs.find(IFLA_ADDRESS); it != attrs.end() && it->second.size() == 6) {
      MacAddress mac;
      std::memcpy(mac.bytes.data(), it->second.data(), 6);
      link.mac = mac;
    }
    if (const auto it = attrs.find(IFLA_LINKINFO); it != attrs.end()) {
      const auto info = parse_attributes(it->second);
      if (const auto kind = info.find(IFLA_INFO_KIND); kind != info.end()) {
        link.kind = attr_string(kind->second);
      }
    }
    links.push_back(std::move(link));
  }
  return links;
}

std::optional<LinkInfo> find_link(Netlink& nl, std::string_view name) {
  check_link_name(name);
  for (auto& link : list_links(nl)) {
    if (link.name == name) {
      return std::move(link);
    }
  }
  return std::nullopt;
}

int link_index(Netlink& nl, std::string_view name) {
  if (const auto link = find_link(nl, name)) {
    return link->index;
  }
  throw Error(ENODEV, fmt::format("find link \"{}\"", name));
}

void create_bridge(Netlink& nl, std::string_view name) {
  create_link(nl, name, "bridge", {}, fmt::format("create bridge \"{}\"", name));
}

void create_veth(Netlink& nl, std::string_view name, std::string_view peer_name) {
  create_link(nl, name, "veth", peer_name,
              fmt::format("create veth pair \"{}\" / \"{}\"", name, peer_name));
}

void set_link_up(Netlink& nl, std::string_view name) {
  NetlinkRequest req(RTM_NEWLINK, 0);
  auto ifi = link_header(link_index(nl, name));
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  req.put_header(ifi);
  nl.execute(req, fmt::format("set link \"{}\" up", name));
}

void set_link_master(Netlink& nl, std::string_view name, std::string_view bridge) {
  const int master = link_index(nl, bridge);
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.put_header(link_header(link_index(nl, name)));
  req.add_u32(IFLA_MASTER, static_cast<std::uint32_t>(master));
  nl.execute(req, fmt::format("attach link \"{}\" to bridge \"{}\"", name, bridge));
}

void set_link_mac(Netlink& nl, std::string_view name, const MacAddress& mac) {
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.put_header(link_header(link_index(nl, name)));
  req.add(IFLA_ADDRESS, mac.bytes.data(), mac.bytes.size());
  nl.execute(req, fmt::format("set MAC address {} on \"{}\"", to_string(mac), name));
}

void rename_link(Netlink& nl, std::string_view name, std::string_view new_name) {
  check_link_name(new_name);
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.put_header(link_header(link_index(nl, name)));
  req.add_string(IFLA_IFNAME, new_name);
  nl.execute(req, fmt::format("rename link \"{}\" to \"{}\"", name, new_name));
}

void move_link_to_netns(Netlink& nl, std::string_view name, BorrowedFd netns) {
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.put_header(link_header(link_index(nl, name)));
  req.add_u32(IFLA_NET_NS_FD, static_cast<std::uint32_t>(netns.get()));
  nl.execute(req, fmt::format("move link \"{}\" to network namespace fd {}", name, netns.get()));
}

void move_link_to_netns(Netlink& nl, std::string_view name, pid_t pid) {
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.put_header(link_header(link_index(nl, name)));
  req.add_u32(IFLA_NET_NS_PID, static_cast<std::uint32_t>(pid));
  nl.execute(req, fmt::format("move link \"{}\" to the network namespace of pid {}", name, pid));
}

void add_address(Netlink& nl, std::string_view name, Ipv4Address address, int prefix) {
  const int index = link_index(nl, name);
  NetlinkRequest req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa.ifa_index = static_cast<unsigned>(index);
  req.put_header(ifa);
  const std::uint32_t be = htonl(address.value);
  req.add(IFA_LOCAL, &be, sizeof be);
  req.add(IFA_ADDRESS, &be, sizeof be);
  if (prefix < 31) {
    const std::uint32_t brd = htonl(network_of(address, prefix).broadcast().value);
    req.add(IFA_BROADCAST, &brd, sizeof brd);
  }
  nl.execute(req, fmt::format("add address {}/{} to \"{}\"", to_string(address), prefix, name));
}

namespace {

// A default route of `family` through the gateway (its bytes in network order).
void add_default_route(Netlink& nl, unsigned char family, const void* gateway, std::size_t size,
                       const std::string& gateway_text) {
  NetlinkRequest req(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg rt{};
  rt.rtm_family = family;
  rt.rtm_table = RT_TABLE_MAIN;
  rt.rtm_protocol = RTPROT_BOOT;
  rt.rtm_scope = RT_SCOPE_UNIVERSE;
  rt.rtm_type = RTN_UNICAST;
  req.put_header(rt);
  req.add(RTA_GATEWAY, gateway, size);
  nl.execute(req, fmt::format("add default route via {}", gateway_text));
}

}  // namespace

void add_default_route(Netlink& nl, Ipv4Address gateway) {
  const std::uint32_t be = htonl(gateway.value);
  add_default_route(nl, AF_INET, &be, sizeof be, to_string(gateway));
}

void add_address(Netlink& nl, std::string_view name, const Ipv6Address& address, int prefix) {
  const int index = link_index(nl, name);
  NetlinkRequest req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET6;
  ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa.ifa_flags = IFA_F_NODAD;
  ifa.ifa_index = static_cast<unsigned>(index);
  req.put_header(ifa);
  req.add(IFA_LOCAL, address.bytes.data(), address.bytes.size());
  req.add(IFA_ADDRESS, address.bytes.data(), address.bytes.size());
  req.add_u32(IFA_FLAGS, IFA_F_NODAD);
  nl.execute(req, fmt::format("add address {}/{} to \"{}\"", to_string(address), prefix, name));
}

void add_default_route(Netlink& nl, const Ipv6Address& gateway) {
  add_default_route(nl, AF_INET6, gateway.bytes.data(), gateway.bytes.size(), to_string(gateway));
}

void delete_link(Netlink& nl, std::string_view name) {
  NetlinkRequest req(RTM_DELLINK, 0);
  req.put_header(link_header(link_index(nl, name)));
  nl.execute(req, fmt::format("delete link \"{}\"", name));
}

bool try_delete_link(Netlink& nl, std::string_view name) {
  if (!find_link(nl, name)) {
    return false;
  }
  try {
    delete_link(nl, name);
  } catch (const Error& e) {
    // Gone in between (deleting one end of a veth pair removes the other).
    if (e.errno_value() == ENODEV) {
      return false;
    }
    throw;
  }
  return true;
}

std::vector<RouteInfo> list_routes(Netlink& nl) {
  NetlinkRequest req(RTM_GETROUTE, 0);
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  req.put_header(rt);
  std::vector<RouteInfo> routes;
  for (const auto& msg : nl.dump(req, "list routes")) {
    if (msg.size() < sizeof(rtmsg)) {
      continue;
    }
    const auto r = attr_value<rtmsg>(msg);
    const auto attrs = parse_attributes(std::string_view(msg).substr(NLMSG_ALIGN(sizeof r)));
    std::uint32_t table = r.rtm_table;
    if (const auto it = attrs.find(RTA_TABLE); it != attrs.end()) {
      table = attr_value<std::uint32_t>(it->second);
    }
    if (r.rtm_family != AF_INET || table == RT_TABLE_LOCAL) {
      continue;
    }
    RouteInfo route;
    route.table = table;
    std::uint32_t dst = 0;
    if (const auto it = attrs.find(RTA_DST); it != attrs.end()) {
      dst = ntohl(attr_value<std::uint32_t>(it->second));
    }
    route.destination = network_of(Ipv4Address{dst}, r.rtm_dst_len);
    if (const auto it = attrs.find(RTA_GATEWAY); it != attrs.end()) {
      route.gateway = Ipv4Address{ntohl(attr_value<std::uint32_t>(it->second))};
    }
    if (const auto it = attrs.find(RTA_OIF); it != attrs.end()) {
      route.oif = attr_value<int>(it->second);
    }
    routes.push_back(route);
  }
  return routes;
}

}  // namespace gctool::net
