#include "gctool/net/firewall.hpp"

#include <set>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_lock.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/nftables.hpp"

namespace gctool::net {
namespace {

// The table is host-wide (per network namespace), not per --root: one lock for all of gctool.
FileLock firewall_lock() {
  return FileLock::exclusive("/run/gctool-firewall.lock");
}

std::string net_tag(const std::string& bridge) {
  return "gctool-net:" + bridge;
}

std::string ctr_tag(const std::string& container_id) {
  return "gctool-ctr:" + container_id;
}

bool is_loopback(Ipv4Address address) {
  return address.value >> 24 == 127;
}

// Creating a table and chains is idempotent in nft (`add`), so this is safe to repeat.
std::string table_setup() {
  return fmt::format(
      "add table inet {0}\n"
      "add chain inet {0} prerouting {{ type nat hook prerouting priority dstnat; policy accept; "
      "}}\n"
      "add chain inet {0} output {{ type nat hook output priority -100; policy accept; }}\n"
      "add chain inet {0} postrouting {{ type nat hook postrouting priority srcnat; policy accept; "
      "}}\n"
      "add chain inet {0} forward {{ type filter hook forward priority filter; policy accept; }}\n"
      "add chain inet {0} raw-prerouting {{ type filter hook prerouting priority raw; policy "
      "accept; "
      "}}\n"
      "add chain inet {0} isolation {{ type filter hook forward priority filter - 10; policy "
      "accept; "
      "}}\n"
      "add set inet {0} bridges {{ type ifname; }}\n",
      kFirewallTable);
}

std::vector<FirewallRule> list_rules(Nftables& nft) {
  std::vector<FirewallRule> rules;
  nlohmann::json json;
  try {
    json = nft.list_json(fmt::format("list table inet {}", kFirewallTable), "list gctool rules");
  } catch (const Error&) {
    // No such table: no rules. (nft reports it as a failed command.)
    return rules;
  }
  for (const auto& item : json.value("nftables", nlohmann::json::array())) {
    if (!item.contains("rule")) {
      continue;
    }
    const auto& r = item["rule"];
    rules.push_back(
        {r.value("chain", ""), r.value("handle", std::uint64_t{0}), r.value("comment", "")});
  }
  return rules;
}

bool table_exists(Nftables& nft) {
  try {
    nft.run(fmt::format("list table inet {}", kFirewallTable), "list gctool table");
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Deletes the rules whose comment is tag; returns how many.
std::size_t delete_tagged(Nftables& nft, const std::string& tag, std::string_view what) {
  std::string commands;
  std::size_t n = 0;
  for (const auto& rule : list_rules(nft)) {
    if (rule.comment == tag) {
      commands += fmt::format("delete rule inet {} {} handle {}\n", kFirewallTable, rule.chain,
                              rule.handle);
      ++n;
    }
  }
  if (n > 0) {
    nft.run(commands, what);
  }
  return n;
}

// An IPv4 rule of the old table as a rule of the inet one: it applies to IPv4 only, and its NAT
// statements name their family, as the inet family requires.
nlohmann::json as_inet_rule(const nlohmann::json& rule) {
  nlohmann::json expr = nlohmann::json::array();
  expr.push_back(
      {{"match", {{"op", "=="}, {"left", {{"meta", {{"key", "nfproto"}}}}}, {"right", "ipv4"}}}});
  for (auto statement : rule.value("expr", nlohmann::json::array())) {
    for (const auto* nat : {"dnat", "snat"}) {
      if (statement.contains(nat) && statement[nat].is_object()) {
        statement[nat]["family"] = "ip";
      }
    }
    expr.push_back(std::move(statement));
  }
  nlohmann::json out = {{"family", "inet"},
                        {"table", kFirewallTable},
                        {"chain", rule.value("chain", "")},
                        {"expr", std::move(expr)}};
  if (rule.contains("comment")) {
    out["comment"] = rule["comment"];
  }
  return out;
}

// Whether the rules tagged `tag` in the old table still serve something: a network whose bridge
// exists, a container whose host veth exists, and neither has rules in the inet table already
// (this version installed them again).
bool still_needed(const std::string& tag, const std::set<std::string>& links,
                  const std::set<std::string>& inet_tags) {
  if (inet_tags.contains(tag)) {
    return false;
  }
  if (tag.starts_with("gctool-net:")) {
    return links.contains(tag.substr(std::string_view("gctool-net:").size()));
  }
  if (tag.starts_with("gctool-ctr:")) {
    return links.contains(host_veth_name(tag.substr(std::string_view("gctool-ctr:").size())));
  }
  return false;
}

// Versions before IPv6 kept their rules in `table ip gctool`. The rules still needed (see
// still_needed) and the set of bridges move into the inet table, and the old table is deleted,
// in one transaction; the rest goes with it (if the move fails, everything does), so no stale or
// duplicate rule stays. Called under the firewall lock by every change.
void migrate_ip_table(Nftables& nft) {
  nlohmann::json old;
  try {
    old = nft.list_json(fmt::format("list table ip {}", kFirewallTable), "list the old table");
  } catch (const Error&) {
    return;  // no old table: the usual case
  }
  std::set<std::string> links;
  {
    Netlink nl;
    for (const auto& link : list_links(nl)) {
      links.insert(link.name);
    }
  }
  std::set<std::string> inet_tags;
  for (const auto& rule : list_rules(nft)) {
    inet_tags.insert(rule.comment);
  }
  nlohmann::json commands = nlohmann::json::array();
  for (const auto& item : old.value("nftables", nlohmann::json::array())) {
    if (item.contains("rule")) {
      if (still_needed(item["rule"].value("comment", ""), links, inet_tags)) {
        commands.push_back({{"add", {{"rule", as_inet_rule(item["rule"])}}}});
      }
    } else if (item.contains("set") && item["set"].value("name", "") == "bridges") {
      nlohmann::json live = nlohmann::json::array();
      for (const auto& e : item["set"].value("elem", nlohmann::json::array())) {
        if (e.is_string() && links.contains(e.get<std::string>())) {
          live.push_back(e);
        }
      }
      if (!live.empty()) {
        commands.push_back({{"add",
                             {{"element",
                               {{"family", "inet"},
                                {"table", kFirewallTable},
                                {"name", "bridges"},
                                {"elem", live}}}}}});
      }
    }
  }
  const nlohmann::json drop = {
      {"delete", {{"table", {{"family", "ip"}, {"name", kFirewallTable}}}}}};
  commands.push_back(drop);
  try {
    nft.run(table_setup(), "create the gctool table");
    nft.run_json({{"nftables", commands}}, "move the old gctool rules");
  } catch (const Error&) {
    nft.run_json({{"nftables", nlohmann::json::array({drop})}}, "delete the old gctool table");
  }
}

}  // namespace

void set_net_sysctl(const std::string& key, const std::string& value) {
  write_existing_file("/proc/sys/net/" + key, value);
}

std::vector<FirewallRule> list_firewall_rules() {
  Nftables nft;
  return list_rules(nft);
}

bool firewall_table_exists() {
  Nftables nft;
  return table_exists(nft);
}

void install_network_rules(const std::string& bridge, const Ipv4Network& subnet, bool internal,
                           const std::optional<Ipv6Network>& subnet6) {
  check_link_name(bridge);
  set_net_sysctl("ipv4/ip_forward", "1");
  if (subnet6 && !internal) {
    // As Docker with IPv6 networks. (A host that configures itself from router advertisements
    // needs accept_ra=2 on its uplink to keep doing so while forwarding.)
    set_net_sysctl("ipv6/conf/all/forwarding", "1");
  }
  set_net_sysctl(fmt::format("ipv4/conf/{}/route_localnet", bridge), "1");
  const auto lock = firewall_lock();
  Nftables nft;
  migrate_ip_table(nft);
  const auto tag = net_tag(bridge);
  for (const auto& rule : list_rules(nft)) {
    if (rule.comment == tag) {
      return;
    }
  }
  const auto t = kFirewallTable;
  const auto s = to_string(subnet);
  // An internal network (Docker's rules): no NAT, and nothing crosses its bridge's border.
  const std::string border =
      internal ? fmt::format(
                     "add rule inet {0} isolation iifname \"{1}\" oifname != \"{1}\" drop "
                     "comment \"{2}\"\n"
                     "add rule inet {0} isolation oifname \"{1}\" iifname != \"{1}\" drop "
                     "comment \"{2}\"\n",
                     t, bridge, tag)
               : fmt::format(
                     "add rule inet {0} postrouting ip saddr {1} oifname != \"{2}\" "
                     "masquerade comment \"{3}\"\n"
                     "add rule inet {0} postrouting ip saddr 127.0.0.0/8 oifname \"{2}\" "
                     "masquerade comment \"{3}\"\n"
                     "{4}",
                     t, s, bridge, tag,
                     subnet6 ? fmt::format("add rule inet {} postrouting ip6 saddr {} oifname != "
                                           "\"{}\" masquerade comment \"{}\"\n",
                                           t, to_string(*subnet6), bridge, tag)
                             : std::string());
  nft.run(
      table_setup() + border +
          fmt::format("add element inet {0} bridges {{ \"{2}\" }}\n"
                      "add rule inet {0} forward iifname \"{2}\" accept comment \"{3}\"\n"
                      "add rule inet {0} forward oifname \"{2}\" accept comment \"{3}\"\n"
                      // route_localnet would let a neighbour on the bridge reach the host's
                      // loopback services: nothing from a bridge is for 127.0.0.0/8. (Replies to
                      // the masqueraded 127.0.0.1 connections are still addressed to the bridge
                      // here: conntrack restores 127.0.0.1 after this hook.)
                      "add rule inet {0} raw-prerouting iifname \"{2}\" ip daddr 127.0.0.0/8 drop "
                      "comment \"{3}\"\n"
                      // Docker's isolation: nothing from this network to another gctool bridge
                      // (the other network's own rule covers the way back).
                      "add rule inet {0} isolation iifname \"{2}\" oifname != \"{2}\" oifname "
                      "@bridges drop comment \"{3}\"\n",
                      t, s, bridge, tag),
      fmt::format("add firewall rules for bridge \"{}\" ({})", bridge, s));
}

void remove_network_rules(const std::string& bridge) {
  const auto lock = firewall_lock();
  Nftables nft;
  migrate_ip_table(nft);
  delete_tagged(nft, net_tag(bridge),
                fmt::format("remove firewall rules of bridge \"{}\"", bridge));
  if (!table_exists(nft)) {
    return;
  }
  // The set is there with the table; deleting an element it lacks (after a crash) is fine.
  try {
    nft.run(fmt::format("delete element inet {} bridges {{ \"{}\" }}", kFirewallTable, bridge),
            "forget a bridge");
  } catch (const Error&) {
  }
  if (list_rules(nft).empty()) {
    nft.run(fmt::format("delete table inet {}", kFirewallTable), "delete the gctool table");
  }
}

void install_port_rules(const std::string& container_id, Ipv4Address container_ip,
                        const std::vector<PortMapping>& ports,
                        const std::optional<Ipv6Address>& container_ip6) {
  if (ports.empty()) {
    return;
  }
  const auto lock = firewall_lock();
  Nftables nft;
  migrate_ip_table(nft);
  const auto tag = ctr_tag(container_id);
  std::string commands = table_setup();
  for (const auto& p : ports) {
    if (p.host_port == 0) {
      throw_invalid("publish {}: host port not chosen", to_string(p));
    }
    // A given host address is matched as is; "all addresses" means any local address.
    const std::string match =
        p.host_ip ? fmt::format("ip daddr {}", to_string(*p.host_ip)) : "fib daddr type local";
    const auto proto = to_string(p.protocol);
    // A loopback binding is for the host's own connections only (moby #45610): they pass output,
    // never prerouting, and whatever reaches prerouting for it from another interface (a
    // neighbour sending to 127.0.0.1 at the host's MAC) is dropped before NAT, as Docker does.
    const bool loopback = p.host_ip && is_loopback(*p.host_ip);
    if (loopback) {
      commands += fmt::format(
          "add rule inet {} raw-prerouting iifname != \"lo\" {} {} dport {} drop comment \"{}\"\n",
          kFirewallTable, match, proto, p.host_port, tag);
    }
    const auto dnat = [&](std::string_view chain) {
      commands += fmt::format(
          "add rule inet {} {} meta nfproto ipv4 {} {} dport {} dnat ip to {}:{} "
          "comment \"{}\"\n",
          kFirewallTable, chain, match, proto, p.host_port, to_string(container_ip),
          p.container_port, tag);
      // "All addresses" includes the host's IPv6 ones when the container has an IPv6 address
      // (not ::1, which the proxy in the container's owner serves: a DNAT of it could never
      // leave the host, see the top of this file's header).
      if (container_ip6 && !p.host_ip) {
        commands += fmt::format(
            "add rule inet {} {} meta nfproto ipv6 ip6 daddr != ::1 {} {} dport {} dnat ip6 to "
            "[{}]:{} "
            "comment \"{}\"\n",
            kFirewallTable, chain, match, proto, p.host_port, to_string(*container_ip6),
            p.container_port, tag);
      }
    };
    if (!loopback) {
      dnat("prerouting");
    }
    dnat("output");
  }
  nft.run(commands, fmt::format("publish ports of container {}", container_id));
}

bool remove_container_rules(const std::string& container_id) {
  const auto lock = firewall_lock();
  Nftables nft;
  migrate_ip_table(nft);
  return delete_tagged(nft, ctr_tag(container_id),
                       fmt::format("remove firewall rules of container {}", container_id)) > 0;
}

}  // namespace gctool::net
