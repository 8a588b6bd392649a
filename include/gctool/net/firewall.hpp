// gctool's firewall: one nftables table, `table inet gctool`, that nothing else touches. One
// `inet` table holds IPv4 and IPv6 alike: the forward, isolation and internal-network rules match
// interfaces, so they hold for both families; NAT rules name their family.
//
//   prerouting  (nat, dstnat)  published ports for traffic from other hosts and namespaces
//   output      (nat, -100)    the same ports for the host's own connections, 127.0.0.1 included
//   postrouting (nat, srcnat)  masquerade for traffic leaving a network's subnet, and for
//                              127.0.0.0/8 sources going to a bridge
//   forward     (filter)       accept traffic from and to the bridges
//   isolation   (filter, before forward)  drop what goes from one gctool bridge (set `bridges`)
//                              to another: user networks (and the default one) cannot reach each
//                              other; an internal network's traffic to or from anywhere else
//   raw-prerouting (filter, raw)  before NAT: drop what arrives on a bridge for 127.0.0.0/8, and
//                              what arrives on any interface but lo for a port published on a
//                              loopback address
//
// Why an output-hook DNAT: a connection from the host to 127.0.0.1:PORT never passes prerouting
// (the Go project's bug: localhost could not reach published ports). DNAT in output sends it to
// the container; the bridge needs route_localnet=1 so the kernel routes a 127.0.0.1 source off
// the loopback, and the masquerade rewrites that source to the bridge address so the container
// can answer. No userland proxy, so no process per port. A loopback binding gets no prerouting
// DNAT: only the host's own connections (output) may reach it, never a neighbour sending a
// packet for 127.0.0.1 to the host's MAC (moby #45610), which raw-prerouting drops.
//
// IPv6 (networks made with --ipv6): a port published on all addresses gets a second DNAT, to the
// container's IPv6 address, for the host's IPv6 addresses and those of other hosts; the subnet is
// masqueraded as the IPv4 one. Not [::1]: IPv6 has no route_localnet, and the kernel drops a
// packet whose source is ::1 on any link but lo (RFC 4291 2.5.3; counted as Ip6OutDiscards), so
// a DNAT of [::1]:PORT can never leave the host. Docker reaches [::1] only through its userland
// proxy (docker-proxy, a process per port that accepts on [::1] and connects to the container);
// gctool has one too, in the process that owns the container (net/port_proxy.hpp).
//
// Versions before IPv6 used `table ip gctool`: every change first moves what is still needed of
// it into the inet table and deletes it (see migrate_ip_table in firewall.cpp).
//
// Every rule carries a comment: "gctool-net:<bridge>" for a network's rules, "gctool-ctr:<id>"
// for a container's ports; they are removed by that tag. The table is deleted once it holds no
// rule, so it is gone when the last network is. Changes are serialized by a host-wide flock.
#pragma once

#include <string>
#include <vector>

#include <optional>

#include "gctool/net/ipv4.hpp"
#include "gctool/net/ipv6.hpp"
#include "gctool/net/ports.hpp"

namespace gctool::net {

inline constexpr std::string_view kFirewallTable = "gctool";
// A gctool bridge's name starts with this unless --opt com.docker.network.bridge.name gave one.
inline constexpr std::string_view kBridgePrefix = "gct-";

struct FirewallRule {
  std::string chain;
  std::uint64_t handle = 0;
  std::string comment;
};

// The rules of gctool's table (empty when the table does not exist).
std::vector<FirewallRule> list_firewall_rules();
bool firewall_table_exists();

// Masquerade, forwarding and localhost publishing for a bridge network; sets ip_forward=1 and the
// bridge's route_localnet=1 (with an IPv6 subnet, IPv6 forwarding too). An internal network gets
// no masquerade, and drops what would enter or leave it through the host. Idempotent: an existing
// set of rules for the bridge is kept.
void install_network_rules(const std::string& bridge, const Ipv4Network& subnet,
                           bool internal = false,
                           const std::optional<Ipv6Network>& subnet6 = std::nullopt);

// Removes the bridge's rules; deletes the table when no rule remains.
void remove_network_rules(const std::string& bridge);

// DNAT rules (prerouting and output; output only for a loopback host address, plus a drop of
// that port from other interfaces) for the container's published ports, in one transaction.
// Mappings must have their host port resolved (non-zero). With container_ip6, a mapping on all
// addresses is published on the host's IPv6 addresses too.
void install_port_rules(const std::string& container_id, Ipv4Address container_ip,
                        const std::vector<PortMapping>& ports,
                        const std::optional<Ipv6Address>& container_ip6 = std::nullopt);

// Removes the container's rules; false when it had none.
bool remove_container_rules(const std::string& container_id);

// Writes a /proc/sys/net knob, e.g. set_net_sysctl("ipv4/ip_forward", "1").
void set_net_sysctl(const std::string& key, const std::string& value);

}  // namespace gctool::net
