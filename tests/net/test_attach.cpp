// attach/detach: a container namespace plugged into a bridge network, published ports reached
// from the "host" (a namespace the test creates) on 127.0.0.1 and on the gateway address, and
// nothing left after detach.
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/firewall.hpp"
#include "gctool/net/ipam_store.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/network.hpp"
#include "net_support.hpp"
#include "test_support.hpp"

namespace net = gctool::net;
using gctool::test::HostNetns;
using gctool::test::TempDir;
using gctool::test::TestNetns;

namespace {

net::Network make_network(const TempDir& root, const std::string& subnet) {
  net::CreateNetworkOptions options;
  options.name = "n1";
  options.subnet = subnet;
  return net::create_network(root.path(), options);
}

// Connects from the calling thread's namespace; the listener (in the container) accepts, reads
// "ping" and answers "pong".
bool echo_through(const gctool::UniqueFd& listener, const std::string& ip, std::uint16_t port) {
  auto client = gctool::test::tcp_connect(ip, port);
  if (!client.valid()) {
    return false;
  }
  gctool::UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server.valid()) {
    return false;
  }
  char buf[8] = {};
  if (::write(client.get(), "ping", 4) != 4 || ::read(server.get(), buf, sizeof buf) != 4 ||
      std::string(buf) != "ping" || ::write(server.get(), "pong", 4) != 4) {
    return false;
  }
  char back[8] = {};
  return ::read(client.get(), back, sizeof back) == 4 && std::string(back) == "pong";
}

std::size_t tagged_rules(const std::string& tag) {
  std::size_t n = 0;
  for (const auto& r : net::list_firewall_rules()) {
    n += r.comment == tag ? 1 : 0;
  }
  return n;
}

}  // namespace

TEST_CASE("attach plugs a namespace into the network and publishes ports", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TestNetns container;
  TempDir root;
  const auto network = make_network(root, "10.231.25.0/24");
  const std::string id = "0123456789abcdef";

  net::AttachOptions options;
  options.publish = {net::parse_publish("127.0.0.1:18080:8080"), net::parse_publish("9090")};
  const auto a = net::attach(root.path(), "n1", id, "web", container.fd(), options);
  CHECK(net::to_string(a.ip) == "10.231.25.2");
  CHECK(a.prefix == 24);
  CHECK(net::to_string(a.gateway) == "10.231.25.1");
  CHECK(net::to_string(a.mac) == "02:42:0a:e7:19:02");
  CHECK(a.bridge == network.bridge);
  CHECK(a.host_veth == net::host_veth_name(id));
  REQUIRE(a.ports.size() == 2);
  CHECK(a.ports[0].host_port == 18080);
  CHECK(a.ports[1].host_port != 0);  // chosen
  CHECK(a.ports[1].container_port == 9090);

  // The container side: eth0 with the address and MAC, lo up, a default route.
  {
    auto inside = net::Netlink::in_netns(container.fd());
    const auto eth0 = net::find_link(inside, "eth0");
    REQUIRE(eth0);
    CHECK(eth0->up);
    CHECK(eth0->mac == a.mac);
    CHECK(net::find_link(inside, "lo")->up);
    bool default_route = false;
    for (const auto& r : net::list_routes(inside)) {
      default_route = default_route || (r.destination.prefix == 0 && r.gateway == a.gateway);
    }
    CHECK(default_route);
  }
  // The host side: the veth is a port of the bridge.
  {
    net::Netlink nl;
    const auto veth = net::find_link(nl, a.host_veth);
    REQUIRE(veth);
    CHECK(veth->master == net::link_index(nl, network.bridge));
  }
  CHECK(tagged_rules("gctool-ctr:" + id) == 4);  // 2 ports x (prerouting + output)

  gctool::UniqueFd listener;
  gctool::UniqueFd listener2;
  {
    net::NetNsGuard in(container.fd());
    listener = gctool::test::tcp_listen("0.0.0.0", 8080);
    listener2 = gctool::test::tcp_listen("0.0.0.0", 9090);
  }
  // Directly, through the bridge; then published, on localhost and on the gateway address.
  CHECK(echo_through(listener, "10.231.25.2", 8080));
  CHECK(echo_through(listener, "127.0.0.1", 18080));
  CHECK(echo_through(listener2, "127.0.0.1", a.ports[1].host_port));
  CHECK(echo_through(listener2, "10.231.25.1", a.ports[1].host_port));
  // Bound to 127.0.0.1 only: not on the gateway address.
  CHECK_FALSE(gctool::test::tcp_connect("10.231.25.1", 18080).valid());

  // The recorded attachment, and published ports refused to others.
  const auto found = net::find_attachment(root.path(), id);
  REQUIRE(found);
  CHECK(found->ports == a.ports);
  CHECK_THROWS_WITH(net::validate_publish(root.path(), {net::parse_publish("18080:80")}),
                    Catch::Contains("port 18080/tcp is already published by container "
                                    "0123456789ab (web)"));
  CHECK_NOTHROW(net::validate_publish(root.path(), {net::parse_publish("18080:80/udp")}));
  CHECK_THROWS_WITH(net::validate_publish(root.path(), {net::parse_publish("18081:80"),
                                                        net::parse_publish("18081:81")}),
                    Catch::Contains("published twice"));
  {
    const auto busy = gctool::test::tcp_listen("0.0.0.0", 0);
    const auto port = gctool::test::local_port(busy);
    CHECK_THROWS_WITH(
        net::validate_publish(root.path(), {net::parse_publish(fmt::format("{}:80", port))}),
        Catch::Contains(fmt::format("port {}/tcp is already in use on the host", port)));
  }
  // An address the host does not have is not "in use": the kernel's reason is given.
  CHECK_THROWS_WITH(
      net::validate_publish(root.path(), {net::parse_publish("192.0.2.1:18082:80")}),
      "cannot publish port 192.0.2.1:18082/tcp on the host: Cannot assign requested address");
  // A second attach of the same container, or of another to a taken --ip, is refused cleanly.
  CHECK_THROWS_WITH(net::attach(root.path(), "n1", id, "web", container.fd()),
                    Catch::Contains("already attached"));
  {
    TestNetns other;
    net::AttachOptions taken;
    taken.ip = a.ip;
    CHECK_THROWS_WITH(net::attach(root.path(), "n1", "other", "o", other.fd(), taken),
                      Catch::Contains("already in use"));
    CHECK_FALSE(net::find_attachment(root.path(), "other"));
  }
  CHECK(net::detach(root.path(), id));
  CHECK_FALSE(net::detach(root.path(), id));  // idempotent
  CHECK(tagged_rules("gctool-ctr:" + id) == 0);
  CHECK_FALSE(net::find_attachment(root.path(), id));
  CHECK(net::IpamStore(root.path(), "n1", network.subnet, network.gateway).count() == 0);
  {
    net::Netlink nl;
    CHECK_FALSE(net::find_link(nl, a.host_veth));
    auto inside = net::Netlink::in_netns(container.fd());
    CHECK_FALSE(net::find_link(inside, "eth0"));
  }
  CHECK_FALSE(gctool::test::tcp_connect("127.0.0.1", 18080).valid());
  net::remove_network(root.path(), "n1", false);
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
}

TEST_CASE("attach to the default network creates it; reconcile detaches the dead", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TestNetns c1, c2;
  TempDir root;
  const auto a1 = net::attach(root.path(), "bridge", "id-one", "one", c1.fd());
  const auto a2 = net::attach(root.path(), "bridge", "id-two", "two", c2.fd());
  CHECK(net::to_string(a1.ip) == "172.17.0.2");
  CHECK(net::to_string(a2.ip) == "172.17.0.3");
  CHECK(net::list_attachments(root.path()).size() == 2);

  // Container to container through the bridge.
  gctool::UniqueFd listener;
  {
    net::NetNsGuard in(c2.fd());
    listener = gctool::test::tcp_listen("0.0.0.0", 7000);
  }
  {
    net::NetNsGuard in(c1.fd());
    CHECK(echo_through(listener, "172.17.0.3", 7000));
  }

  CHECK(net::reconcile(root.path(), {"id-one"}) == 1);
  CHECK(net::list_attachments(root.path()).size() == 1);
  const auto n = net::find_network(root.path(), "bridge");
  CHECK(net::IpamStore(root.path(), "bridge", n.subnet, n.gateway).count() == 1);
  CHECK(net::detach(root.path(), "id-one"));
  // Its bridge and rules go with its last container (no command removes the default network);
  // the definition stays, and the next container brings them back.
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(net::find_network(root.path(), "bridge").id == n.id);
  const auto a3 = net::attach(root.path(), "bridge", "id-three", "three", c1.fd());
  CHECK(net::to_string(a3.ip) == "172.17.0.2");
  CHECK_FALSE(gctool::test::gctool_links().empty());
  CHECK(net::firewall_table_exists());
  CHECK(net::detach(root.path(), "id-three"));
  net::remove_default_network(root.path(), false);
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
}

TEST_CASE("a failed attach leaves nothing behind", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TestNetns c1;
  TempDir root;
  const auto network = make_network(root, "10.231.26.0/30");  // one address
  CHECK(net::to_string(net::attach(root.path(), "n1", "first", "", c1.fd()).ip) == "10.231.26.2");
  TestNetns c2;
  CHECK_THROWS_WITH(net::attach(root.path(), "n1", "second", "", c2.fd()),
                    Catch::StartsWith("no free address in network n1 (10.231.26.0/30)"));
  // A namespace that cannot be entered: the error comes after the address and the veth exist.
  net::AttachOptions publish;
  publish.publish = {net::parse_publish("18090:80")};
  CHECK(net::detach(root.path(), "first"));
  CHECK_THROWS(net::attach(root.path(), "n1", "third", "", gctool::BorrowedFd(-1), publish));
  CHECK_FALSE(net::find_attachment(root.path(), "third"));
  CHECK(net::IpamStore(root.path(), "n1", network.subnet, network.gateway).count() == 0);
  CHECK(tagged_rules("gctool-ctr:third") == 0);
  {
    net::Netlink nl;
    CHECK_FALSE(net::find_link(nl, net::host_veth_name("third")));
  }
  net::remove_network(root.path(), "n1", false);
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
}
