// Upgrading from a version that kept its rules in `table ip gctool`: the first firewall change of
// this version moves the rules of networks and containers that still exist into `table inet
// gctool` (once: none duplicated) and deletes the old table with the stale rest.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "container_support.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/firewall.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/netlink.hpp"
#include "gctool/net/network.hpp"
#include "gctool/net/nftables.hpp"
#include "net_support.hpp"

using namespace gctool;
using namespace gctool::test;

namespace {

bool old_table_exists() {
  net::Nftables nft;
  try {
    nft.run("list table ip gctool", "list");
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::size_t rules_tagged(const std::string& tag) {
  std::size_t n = 0;
  for (const auto& rule : net::list_firewall_rules()) {
    n += rule.comment == tag ? 1 : 0;
  }
  return n;
}

// What an earlier version wrote for a network on `bridge` and a container with one port.
std::string old_rules(const std::string& bridge, const std::string& subnet,
                      const std::string& container_id, const std::string& container_ip) {
  return fmt::format(
      "add rule ip gctool postrouting ip saddr {1} oifname != \"{0}\" masquerade comment "
      "\"gctool-net:{0}\"\n"
      "add rule ip gctool forward iifname \"{0}\" accept comment \"gctool-net:{0}\"\n"
      "add rule ip gctool isolation iifname \"{0}\" oifname != \"{0}\" oifname @bridges drop "
      "comment \"gctool-net:{0}\"\n"
      "add element ip gctool bridges {{ \"{0}\" }}\n"
      "add rule ip gctool prerouting fib daddr type local tcp dport 18080 dnat to {3}:80 comment "
      "\"gctool-ctr:{2}\"\n"
      "add rule ip gctool output fib daddr type local tcp dport 18080 dnat to {3}:80 comment "
      "\"gctool-ctr:{2}\"\n",
      bridge, subnet, container_id, container_ip);
}

}  // namespace

TEST_CASE("an old 'table ip gctool' is moved into 'table inet gctool' and deleted", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;  // in a network namespace of its own
  static std::mt19937 rng{std::random_device{}()};
  const std::string subnet = fmt::format("10.{}.{}.0/24", 16 + rng() % 200, rng() % 250);
  const std::string network = unique_name("gn");
  REQUIRE(root.run({"network", "create", "--subnet", subnet, network}).exit_code == 0);
  const std::string name = unique_name("c");
  const auto run = root.run({"run", "-d", "--name", name, "--network", network, "-p", "18081:80",
                             "busybox", "sleep", "60"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const std::string id = root.inspect(name)["Id"];
  const std::string bridge = net::find_network(root.root(), network).bridge;
  const auto ours = net::list_firewall_rules().size();
  REQUIRE(rules_tagged("gctool-net:" + bridge) > 0);

  // A live bridge and container veth of the old version's (links that exist), and stale ones.
  const std::string live_bridge = "gct-old" + std::to_string(rng() % 100000);
  const std::string live_ctr = "0ld" + std::string(61, 'a');
  {
    net::Netlink nl;
    net::create_bridge(nl, live_bridge);
    net::create_veth(nl, net::host_veth_name(live_ctr), "gpold0");
  }
  {
    net::Nftables nft;
    nft.run(
        "add table ip gctool\n"
        "add chain ip gctool prerouting { type nat hook prerouting priority dstnat; policy accept; "
        "}\n"
        "add chain ip gctool output { type nat hook output priority -100; policy accept; }\n"
        "add chain ip gctool postrouting { type nat hook postrouting priority srcnat; policy "
        "accept; }\n"
        "add chain ip gctool forward { type filter hook forward priority filter; policy accept; "
        "}\n"
        "add chain ip gctool isolation { type filter hook forward priority filter - 10; policy "
        "accept; }\n"
        "add set ip gctool bridges { type ifname; }\n" +
            old_rules(live_bridge, "10.250.1.0/24", live_ctr, "10.250.1.2") +
            old_rules("gct-gone", "10.250.2.0/24", std::string(64, 'b'), "10.250.2.2") +
            // This version's own network and container, as the old version had them too.
            old_rules(bridge, subnet, id, "10.250.3.2"),
        "make the old table");
  }
  REQUIRE(old_table_exists());

  // Any change of the firewall migrates: here a container starting on the network.
  CHECK(root.run({"run", "--rm", "--network", network, "busybox", "true"}).exit_code == 0);
  CHECK_FALSE(old_table_exists());
  // Moved: the live network's and container's rules, as IPv4 rules of the inet table.
  CHECK(rules_tagged("gctool-net:" + live_bridge) == 3);
  CHECK(rules_tagged("gctool-ctr:" + live_ctr) == 2);
  // Dropped: the stale ones, and the old copies of what this version installed itself.
  CHECK(rules_tagged("gctool-net:gct-gone") == 0);
  CHECK(rules_tagged("gctool-ctr:" + std::string(64, 'b')) == 0);
  CHECK(net::list_firewall_rules().size() == ours + 5);
  {
    net::Nftables nft;
    const auto text = nft.run("list table inet gctool", "list");
    CHECK_THAT(text, Catch::Contains(fmt::format(
                         "dnat ip to 10.250.1.2:80 comment \"gctool-ctr:{}\"", live_ctr)));
    CHECK_THAT(text, Catch::Contains("\"" + live_bridge + "\""));  // in the set of bridges
    CHECK_THAT(text, !Catch::Contains("gct-gone"));
  }

  // The moved rules go the usual way; then nothing of gctool is left.
  CHECK(net::remove_container_rules(live_ctr));
  net::remove_network_rules(live_bridge);
  {
    net::Netlink nl;
    net::delete_link(nl, live_bridge);
    net::delete_link(nl, net::host_veth_name(live_ctr));
  }
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.run({"network", "rm", network}).exit_code == 0);
  CHECK_FALSE(net::firewall_table_exists());
  CHECK_FALSE(old_table_exists());
  CHECK(gctool_links().empty());
  CHECK(root.leaks().empty());
}
