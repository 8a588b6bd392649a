// The rtnetlink client against real links, inside network namespaces the test creates: a bridge
// joining two "containers" through veth pairs, with TCP between them.
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/netns.hpp"
#include "net_support.hpp"
#include "test_support.hpp"

namespace net = gctool::net;
using gctool::test::TestNetns;

namespace {

// Plugs `ns` into bridge through a veth pair: eth0 with address/24, default route via gateway.
void plug(net::Netlink& host, const std::string& bridge, const std::string& veth,
          const TestNetns& ns, const std::string& address) {
  const std::string peer = veth + "p";
  net::create_veth(host, veth, peer);
  net::set_link_master(host, veth, bridge);
  net::set_link_up(host, veth);
  net::set_link_mac(host, peer, net::mac_for(net::parse_ipv4(address)));
  net::move_link_to_netns(host, peer, ns.fd());
  auto inside = net::Netlink::in_netns(ns.fd());
  net::rename_link(inside, peer, "eth0");
  net::add_address(inside, "eth0", net::parse_ipv4(address), 24);
  net::set_link_up(inside, "eth0");
  net::set_link_up(inside, "lo");
  net::add_default_route(inside, net::parse_ipv4("10.231.7.1"));
}

}  // namespace

TEST_CASE("bridge and veth pairs connect two namespaces", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  TestNetns host_ns, a, b;
  auto host = net::Netlink::in_netns(host_ns.fd());
  const std::string bridge = gctool::test::unique_name("gct");  // 11 chars
  net::create_bridge(host, bridge);
  net::add_address(host, bridge, net::parse_ipv4("10.231.7.1"), 24);
  net::set_link_up(host, bridge);
  plug(host, bridge, "gva", a, "10.231.7.2");
  plug(host, bridge, "gvb", b, "10.231.7.3");

  const auto links = net::list_links(host);
  const auto br = net::find_link(host, bridge);
  REQUIRE(br);
  CHECK(br->kind == "bridge");
  CHECK(br->up);
  const auto gva = net::find_link(host, "gva");
  REQUIRE(gva);
  CHECK(gva->kind == "veth");
  CHECK(gva->master == br->index);
  CHECK_FALSE(net::find_link(host, "gvap"));  // moved into the namespace

  auto in_a = net::Netlink::in_netns(a.fd());
  const auto eth0 = net::find_link(in_a, "eth0");
  REQUIRE(eth0);
  CHECK(eth0->mac == net::mac_for(net::parse_ipv4("10.231.7.2")));
  bool has_default = false;
  for (const auto& r : net::list_routes(in_a)) {
    has_default =
        has_default || (r.destination.prefix == 0 && r.gateway == net::parse_ipv4("10.231.7.1"));
  }
  CHECK(has_default);
  bool has_subnet_route = false;
  for (const auto& r : net::list_routes(host)) {
    has_subnet_route = has_subnet_route || net::to_string(r.destination) == "10.231.7.0/24";
  }
  CHECK(has_subnet_route);

  // TCP from a to a listener in b, through the bridge.
  gctool::UniqueFd listener;
  {
    net::NetNsGuard in_b(b.fd());
    listener = gctool::test::tcp_listen("10.231.7.3", 0);
  }
  const auto port = gctool::test::local_port(listener);
  gctool::UniqueFd client;
  {
    net::NetNsGuard in(a.fd());
    client = gctool::test::tcp_connect("10.231.7.3", port);
  }
  REQUIRE(client.valid());
  gctool::UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(server.valid());
  CHECK(::write(client.get(), "ping", 4) == 4);
  char buf[8] = {};
  CHECK(::read(server.get(), buf, sizeof buf) == 4);
  CHECK(std::string(buf) == "ping");

  // Deleting one end of a pair removes both; errors name the operation and the link.
  CHECK(net::try_delete_link(host, "gvb"));
  CHECK_FALSE(net::try_delete_link(host, "gvb"));
  auto in_b = net::Netlink::in_netns(b.fd());
  CHECK_FALSE(net::find_link(in_b, "eth0"));
}

TEST_CASE("netlink errors name the operation and the link", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  TestNetns ns;
  auto nl = net::Netlink::in_netns(ns.fd());
  net::create_bridge(nl, "gctdup");
  try {
    net::create_bridge(nl, "gctdup");
    FAIL("second create succeeded");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == EEXIST);
    CHECK_THAT(e.what(), Catch::Contains("create bridge \"gctdup\""));
  }
  try {
    net::delete_link(nl, "gctnone");
    FAIL("delete of a missing link succeeded");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENODEV);
    CHECK_THAT(e.what(), Catch::Contains("gctnone"));
  }
  CHECK_THROWS_WITH(net::create_bridge(nl, "a-name-that-is-too-long"),
                    Catch::Contains("invalid link name"));
  try {
    net::add_address(nl, "gctdup", net::parse_ipv4("10.231.8.1"), 24);
    net::add_address(nl, "gctdup", net::parse_ipv4("10.231.8.1"), 24);
    FAIL("duplicate address accepted");
  } catch (const gctool::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("add address 10.231.8.1/24 to \"gctdup\""));
  }
  CHECK(net::try_delete_link(nl, "gctdup"));
}
