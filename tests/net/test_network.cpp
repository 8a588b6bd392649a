// `gctool network ...` end to end, run inside a network namespace the test creates (the CLI
// inherits it), so the host's links, routes and firewall are never touched.
#include <filesystem>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gctool/core/file_util.hpp"
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

namespace {

std::vector<std::string> files_under(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    // The events journal records what happened; it is no state of a network.
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && name[0] != '.' && !name.starts_with("events.log")) {
      out.push_back(std::filesystem::relative(e.path(), dir).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

gctool::test::RunResult cli(const std::vector<std::string>& args) {
  return gctool::test::gctool(args);
}

// A host route the test owns: a bridge outside gctool with address ip/prefix.
void route_bridge(const std::string& name, const std::string& ip, int prefix) {
  net::Netlink nl;
  net::create_bridge(nl, name);
  net::add_address(nl, name, net::parse_ipv4(ip), prefix);
  net::set_link_up(nl, name);
}

// Nothing of gctool left in the test's namespace or its root.
void check_nothing_left(const TempDir& root) {
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(files_under(root.path()).empty());
}

std::string nft_table() {
  return gctool::test::run_program({"nft", "list", "table", "inet", "gctool"}).out;
}

struct RefusedCreate {
  std::vector<std::string> args;
  std::string error;
};

// Each `network create ARGS` fails with one line `gctool: ...` naming the error, exit 125.
void check_refused_creates(const std::string& root, const std::vector<RefusedCreate>& cases) {
  for (const auto& c : cases) {
    std::vector<std::string> args{"--root", root, "network", "create"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto res = cli(args);
    INFO(fmt::format("{} -> {}", fmt::join(c.args, " "), res.err));
    CHECK(res.exit_code == 125);
    CHECK_THAT(res.err, Catch::StartsWith("gctool: ") && Catch::Contains(c.error));
    CHECK(std::count(res.err.begin(), res.err.end(), '\n') == 1);
  }
}

}  // namespace

TEST_CASE("network create, ls, inspect and rm", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TempDir root;
  const auto r = root.str();
  auto created = cli({"--root", r, "network", "create", "--subnet", "10.231.20.0/24", "net1"});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  const auto id = created.out.substr(0, created.out.size() - 1);
  CHECK(id.size() == 64);

  const auto ls = cli({"--root", r, "network", "ls"});
  CHECK(ls.exit_code == 0);
  CHECK_THAT(ls.out, Catch::StartsWith("NETWORK ID     NAME      DRIVER    SCOPE\n"));
  CHECK_THAT(ls.out, Catch::Contains(id.substr(0, 12) + "   net1      bridge    local\n"));
  CHECK(cli({"--root", r, "network", "ls", "-q"}).out == id.substr(0, 12) + "\n");
  CHECK(cli({"--root", r, "network", "list"}).out == ls.out);

  const auto inspect = cli({"--root", r, "network", "inspect", "net1"});
  REQUIRE(inspect.exit_code == 0);
  const auto j = nlohmann::json::parse(inspect.out).at(0);
  CHECK(j["Name"] == "net1");
  CHECK(j["Id"] == id);
  CHECK(j["Driver"] == "bridge");
  CHECK(j["IPAM"]["Config"][0]["Subnet"] == "10.231.20.0/24");
  CHECK(j["IPAM"]["Config"][0]["Gateway"] == "10.231.20.1");
  CHECK(j["Containers"].empty());

  // The bridge exists, is up, and the firewall masquerades the subnet.
  const std::string bridge = "gct-" + id.substr(0, 10);
  net::Netlink nl;
  const auto link = net::find_link(nl, bridge);
  REQUIRE(link);
  CHECK(link->up);
  CHECK(
      gctool::test::run_program({"ip", "-4", "addr", "show", bridge}).out.find("10.231.20.1/24") !=
      std::string::npos);
  const auto table = nft_table();
  CHECK_THAT(table,
             Catch::Contains("ip saddr 10.231.20.0/24 oifname != \"" + bridge + "\" masquerade"));
  CHECK_THAT(table, Catch::Contains("comment \"gctool-net:" + bridge + "\""));
  CHECK(gctool::read_file("/proc/sys/net/ipv4/ip_forward") == "1\n");

  const auto rm = cli({"--root", r, "network", "rm", "net1"});
  CHECK(rm.exit_code == 0);
  CHECK(rm.out == "net1\n");
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(files_under(root.path()).empty());
  CHECK(cli({"--root", r, "network", "ls", "-q"}).out.empty());
  const auto again = cli({"--root", r, "network", "remove", "net1"});
  CHECK(again.exit_code == 125);
  CHECK(again.err == "gctool: network net1 not found: No such file or directory\n");
}

TEST_CASE("invalid networks are refused with one line and change nothing", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TempDir root;
  const auto r = root.str();
  route_bridge("gctroute", "10.231.40.1", 24);
  REQUIRE(cli({"--root", r, "network", "create", "--subnet", "10.231.21.0/24", "n1"}).exit_code ==
          0);
  const auto files_before = files_under(root.path());
  const auto table_before = nft_table();

  const std::vector<RefusedCreate> cases = {
      {{"--subnet", "10.0.0.0/33", "x"}, "invalid subnet \"10.0.0.0/33\": prefix must be 0..32"},
      {{"--subnet", "300.1.1.0/24", "x"}, "\"300.1.1.0\" is not an IPv4 address"},
      {{"--subnet", "10.231.22.1/24", "x"}, "host bits set (did you mean 10.231.22.0/24?)"},
      {{"--subnet", "10.231.22.0/24", "--gateway", "10.231.23.1", "x"},
       "gateway 10.231.23.1 is outside subnet 10.231.22.0/24"},
      {{"--subnet", "10.231.22.0/24", "--gateway", "10.231.22.0", "x"},
       "gateway 10.231.22.0 is the network address"},
      {{"--subnet", "10.231.22.0/24", "--gateway", "10.231.22.255", "x"},
       "gateway 10.231.22.255 is the broadcast address"},
      {{"--subnet", "10.231.22.0/31", "x"}, "subnet 10.231.22.0/31 is too small"},
      {{"--subnet", "10.231.22.1/32", "x"}, "subnet 10.231.22.1/32 is too small"},
      {{"--subnet", "10.231.22.0/24", "n1"}, "network with name n1 already exists"},
      {{"--subnet", "10.231.21.128/25", "x"}, "subnet 10.231.21.128/25 overlaps network n1"},
      {{"--subnet", "10.231.0.0/16", "x"}, "subnet 10.231.0.0/16 overlaps network n1"},
      {{"--subnet", "10.231.40.0/24", "x"},
       "subnet 10.231.40.0/24 overlaps host route 10.231.40.0/24 dev gctroute"},
      {{"--subnet", "10.231.22.0/24", "bad/name"}, "invalid network name"},
      {{"-d", "overlay", "--subnet", "10.231.22.0/24", "x"}, "driver \"overlay\" is not supported"},
  };
  check_refused_creates(r, cases);
  CHECK(files_under(root.path()) == files_before);
  CHECK(nft_table() == table_before);
  CHECK(gctool::test::gctool_links().size() == 2);  // gctroute and n1's bridge
  CHECK(cli({"--root", r, "network", "rm", "n1"}).exit_code == 0);
  net::Netlink nl;
  net::delete_link(nl, "gctroute");
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
}

TEST_CASE("invalid IPv6 networks are refused with one line and change nothing", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TempDir root;
  const auto r = root.str();
  REQUIRE(cli({"--root", r, "network", "create", "--ipv6", "--subnet", "10.231.21.0/24", "--subnet",
               "fd00:231:21::/64", "n1"})
              .exit_code == 0);
  // The bridge has its IPv6 gateway address, usable at once, and the subnet is masqueraded.
  const auto bridge = net::find_network(r, "n1").bridge;
  const auto addresses = gctool::test::run_program({"ip", "-6", "addr", "show", bridge}).out;
  CHECK_THAT(addresses, Catch::Contains("inet6 fd00:231:21::1/64"));
  // The global address (not the kernel's own link-local one, which goes through DAD).
  const auto global = addresses.find("inet6 fd00:231:21::1/64");
  CHECK(addresses.substr(global, addresses.find('\n', global) - global).find("tentative") ==
        std::string::npos);
  CHECK_THAT(nft_table(), Catch::Contains("ip6 saddr fd00:231:21::/64 oifname != \"" + bridge +
                                          "\" masquerade"));
  const auto files_before = files_under(root.path());
  const auto table_before = nft_table();

  const std::vector<RefusedCreate> cases = {
      {{"--ipv6", "--subnet", "10.231.22.0/24", "x"}, "--ipv6 needs an IPv6 --subnet"},
      {{"--ipv6", "x"}, "--ipv6 needs an IPv6 --subnet"},
      {{"--subnet", "fd00:231:22::/64", "x"},
       "subnet fd00:231:22::/64 is an IPv6 subnet: add --ipv6"},
      {{"--ipv6", "--subnet", "fd00:231:22::1/64", "x"},
       "host bits set (did you mean fd00:231:22::/64?)"},
      {{"--ipv6", "--subnet", "fd00:231:22::/129", "x"}, "prefix must be 0..128"},
      {{"--ipv6", "--subnet", "fd00:231:22::/124", "x"}, "must be from /8 to /120"},
      {{"--ipv6", "--subnet", "fe80::/64", "x"}, "overlaps the reserved range fe80::/10"},
      {{"--ipv6", "--subnet", "::/64", "x"}, "overlaps the reserved range ::/80"},
      {{"--ipv6", "--subnet", "fd00:231:21:0:1::/80", "x"},
       "subnet fd00:231:21:0:1::/80 overlaps network n1 (fd00:231:21::/64)"},
      {{"--ipv6", "--subnet", "fd00:231:22::/64", "--gateway", "fd00:231:23::1", "x"},
       "gateway fd00:231:23::1 is not a host address of subnet fd00:231:22::/64"},
      {{"--ipv6", "--subnet", "fd00:231:22::/64", "--subnet", "fd00:231:23::/64", "x"},
       "--subnet: one IPv4 and one IPv6 value at most"},
  };
  check_refused_creates(r, cases);
  CHECK(files_under(root.path()) == files_before);
  CHECK(nft_table() == table_before);
  CHECK(gctool::test::gctool_links().size() == 1);
  CHECK(cli({"--root", r, "network", "rm", "n1"}).exit_code == 0);
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
}

TEST_CASE("the default network avoids subnets the host routes", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TempDir root;
  {
    const auto n = net::ensure_default_network(root.path());
    CHECK(n.name == "bridge");
    CHECK(net::to_string(n.subnet) == "172.17.0.0/16");
    CHECK(net::to_string(n.gateway) == "172.17.0.1");
    CHECK(net::ensure_default_network(root.path()).id == n.id);  // created once
    net::remove_default_network(root.path(), false);
  }
  {
    net::Netlink nl;
    net::create_bridge(nl, "gctdocker0");
    net::add_address(nl, "gctdocker0", net::parse_ipv4("172.17.0.1"), 16);
    net::set_link_up(nl, "gctdocker0");
  }
  const auto n = net::ensure_default_network(root.path());
  CHECK(net::to_string(n.subnet) == "172.18.0.0/16");
  net::remove_default_network(root.path(), false);
  net::Netlink nl;
  net::delete_link(nl, "gctdocker0");
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
}

TEST_CASE("network rm is refused while a container is attached, unless -f", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  gctool::test::TestNetns container;
  TempDir root;
  const auto r = root.str();
  REQUIRE(cli({"--root", r, "network", "create", "--subnet", "10.231.24.0/24", "n1"}).exit_code ==
          0);
  const auto a = net::attach(root.path(), "n1", "c0ffee01", "web", container.fd());
  const auto inspect = nlohmann::json::parse(cli({"--root", r, "network", "inspect", "n1"}).out);
  const auto& c = inspect[0]["Containers"]["c0ffee01"];
  CHECK(c["Name"] == "web");
  CHECK(c["IPv4Address"] == "10.231.24.2/24");
  CHECK(c["MacAddress"] == "02:42:0a:e7:18:02");

  const auto refused = cli({"--root", r, "network", "rm", "n1"});
  CHECK(refused.exit_code == 125);
  CHECK(refused.err == "gctool: network n1 has active containers: web\n");
  CHECK(net::find_attachment(root.path(), "c0ffee01"));

  CHECK(cli({"--root", r, "network", "rm", "-f", "n1"}).exit_code == 0);
  CHECK_FALSE(net::find_attachment(root.path(), "c0ffee01"));
  CHECK(gctool::test::gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(files_under(root.path()).empty());
}

TEST_CASE("network create without --subnet takes free subnets of the pools", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TempDir root;
  const auto r = root.str();
  // A host route on 172.18.0.0/16: the second network must skip it.
  route_bridge("gctroute", "172.18.0.1", 16);
  const auto subnet_of = [&](const std::string& name) {
    const auto j = nlohmann::json::parse(cli({"--root", r, "network", "inspect", name}).out);
    return j.at(0)["IPAM"]["Config"][0]["Subnet"].get<std::string>();
  };
  REQUIRE(cli({"--root", r, "network", "create", "a1"}).exit_code == 0);
  REQUIRE(cli({"--root", r, "network", "create", "-d", "bridge", "a2"}).exit_code == 0);
  CHECK(subnet_of("a1") == "172.17.0.0/16");
  CHECK(subnet_of("a2") == "172.19.0.0/16");
  const auto j = nlohmann::json::parse(cli({"--root", r, "network", "inspect", "a2"}).out);
  CHECK(j.at(0)["IPAM"]["Config"][0]["Gateway"] == "172.19.0.1");

  // A configured pool: two /24s in 10.231.50.0/23, then none is left.
  const auto files_before = files_under(root.path());
  const auto table_before = nft_table();
  const std::vector<std::string> pool{"GCTOOL_DEFAULT_ADDRESS_POOLS=base=10.231.50.0/23,size=24"};
  const auto with_pool = [&](const std::string& name) {
    return gctool::test::run_program({GCTOOL_BINARY, "--root", r, "network", "create", name}, "",
                                     pool);
  };
  struct Case {
    gctool::test::RunResult result;
    std::string error;
  };
  const std::vector<Case> bad = {
      {cli({"--root", r, "network", "create", "--gateway", "10.1.1.1", "x"}),
       "--gateway needs --subnet"},
      {cli({"--root", r, "network", "create", "a1"}), "network with name a1 already exists"},
      {cli({"--root", r, "network", "create", "-d", "macvlan", "x"}),
       "driver \"macvlan\" is not supported"},
      {gctool::test::run_program({GCTOOL_BINARY, "--root", r, "network", "create", "x"}, "",
                                 {"GCTOOL_DEFAULT_ADDRESS_POOLS=base=10.0.0.0/8,size=4"}),
       "invalid address pool \"base=10.0.0.0/8,size=4\""},
      {gctool::test::run_program({GCTOOL_BINARY, "--root", r, "network", "create", "x"}, "",
                                 {"GCTOOL_DEFAULT_ADDRESS_POOLS=10.0.0.0/8"}),
       "invalid address pool \"10.0.0.0/8\""},
  };
  for (const auto& c : bad) {
    INFO(c.result.err);
    CHECK(c.result.exit_code == 125);
    CHECK_THAT(c.result.err, Catch::StartsWith("gctool: ") && Catch::Contains(c.error));
    CHECK(std::count(c.result.err.begin(), c.result.err.end(), '\n') == 1);
  }
  CHECK(files_under(root.path()) == files_before);
  CHECK(nft_table() == table_before);

  REQUIRE(with_pool("p1").exit_code == 0);
  REQUIRE(with_pool("p2").exit_code == 0);
  CHECK(subnet_of("p1") == "10.231.50.0/24");
  CHECK(subnet_of("p2") == "10.231.51.0/24");
  const auto files_full = files_under(root.path());
  const auto table_full = nft_table();
  const auto full = with_pool("p3");
  CHECK(full.exit_code == 125);
  CHECK(full.err ==
        "gctool: no free subnet: every subnet of the address pools (10.231.50.0/23 in /24s) "
        "overlaps a host route or another network; use --subnet: Cannot assign requested "
        "address\n");
  CHECK(files_under(root.path()) == files_full);
  CHECK(nft_table() == table_full);
  CHECK(gctool::test::gctool_links().size() == 5);  // gctroute and four bridges

  for (const auto* name : {"a1", "a2", "p1", "p2"}) {
    CHECK(cli({"--root", r, "network", "rm", name}).exit_code == 0);
  }
  net::Netlink nl;
  net::delete_link(nl, "gctroute");
  check_nothing_left(root);
}

TEST_CASE("network prune removes only the networks no container uses", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  gctool::test::TestNetns container;
  TempDir root;
  const auto r = root.str();
  for (const auto* name : {"used", "idle1", "idle2"}) {
    REQUIRE(cli({"--root", r, "network", "create", name}).exit_code == 0);
  }
  net::attach(root.path(), "used", "c0ffee02", "web", container.fd());
  // ls --filter and --format, inspect -f.
  CHECK(cli({"--root", r, "network", "ls", "--filter", "dangling=true", "--format",
             "{{.Name}} {{.Driver}}"})
            .out == "idle1 bridge\nidle2 bridge\n");
  CHECK(cli({"--root", r, "network", "ls", "-f", "name=idle", "-f", "name=used", "--format",
             "{{.Name}}"})
            .out == "idle1\nidle2\nused\n");
  CHECK(cli({"--root", r, "network", "ls", "-f", "dangling=false", "-q"}).out.size() == 13);
  const auto bad_filter = cli({"--root", r, "network", "ls", "-f", "color=red"});
  CHECK(bad_filter.exit_code == 125);
  CHECK(bad_filter.err == "gctool: invalid filter 'color'\n");  // Docker's words
  CHECK(cli({"--root", r, "network", "inspect", "-f", "{{.Name}} {{len .Containers}}", "used",
             "idle1"})
            .out == "used 1\nidle1 0\n");
  // Without -f it asks, and "n" keeps everything.
  const auto declined = gctool::test::gctool({"--root", r, "network", "prune"}, "n\n");
  CHECK(declined.exit_code == 0);
  CHECK_THAT(declined.err, Catch::Contains("Are you sure you want to continue? [y/N]"));
  CHECK(net::list_networks(root.path()).size() == 3);

  const auto pruned = cli({"--root", r, "network", "prune", "-f"});
  INFO(pruned.err);
  CHECK(pruned.exit_code == 0);
  CHECK(pruned.out == "Deleted Networks:\nidle1\nidle2\n");
  const auto left = net::list_networks(root.path());
  REQUIRE(left.size() == 1);
  CHECK(left[0].name == "used");
  CHECK(gctool::test::gctool_links().size() == 2);  // used's bridge and the container's veth
  CHECK(cli({"--root", r, "network", "prune", "-f"}).out.empty());

  CHECK(net::detach(root.path(), "c0ffee02"));
  CHECK(cli({"--root", r, "network", "prune", "-f"}).out == "Deleted Networks:\nused\n");
  check_nothing_left(root);
}

TEST_CASE("network rm bridge is refused; labels, the bridge's name and the driver", "[root]") {
  if (!gctool::test::is_root()) {
    return;
  }
  HostNetns host;
  TempDir root;
  const auto r = root.str();
  // The default network survives rm, rm -f and prune, as Docker's.
  const auto bridge = net::ensure_default_network(root.path());
  for (const auto& args : std::vector<std::vector<std::string>>{{"network", "rm", "bridge"},
                                                                {"network", "rm", "-f", "bridge"},
                                                                {"network", "rm", bridge.id}}) {
    std::vector<std::string> full{"--root", r};
    full.insert(full.end(), args.begin(), args.end());
    const auto refused = cli(full);
    CHECK(refused.exit_code == 125);
    CHECK(refused.err == "gctool: bridge is a pre-defined network and cannot be removed\n");
  }
  CHECK(cli({"--root", r, "network", "prune", "-f"}).out.empty());
  CHECK(cli({"--root", r, "network", "ls", "--format", "{{.Name}}"}).out == "bridge\n");

  const auto created =
      cli({"--root", r, "network", "create", "-d", "bridge", "--label", "tier=db", "--label",
           "backup", "-o", "com.docker.network.bridge.name=gctmine0", "n1"});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  REQUIRE(cli({"--root", r, "network", "create", "--label", "tier=web", "n2"}).exit_code == 0);
  const auto j = nlohmann::json::parse(cli({"--root", r, "network", "inspect", "n1"}).out).at(0);
  CHECK(j["Labels"] == nlohmann::json({{"tier", "db"}, {"backup", ""}}));
  CHECK(j["Options"]["com.docker.network.bridge.name"] == "gctmine0");
  CHECK(j["Internal"] == false);
  {
    net::Netlink nl;
    const auto link = net::find_link(nl, "gctmine0");
    REQUIRE(link);
    CHECK(link->up);
  }
  CHECK(cli({"--root", r, "network", "inspect", "-f", "{{.Labels.tier}}", "n2"}).out == "web\n");
  const auto names = [&](const std::string& filter) {
    return cli({"--root", r, "network", "ls", "-f", filter, "--format", "{{.Name}}"}).out;
  };
  CHECK(names("label=tier") == "n1\nn2\n");
  CHECK(names("label=tier=db") == "n1\n");
  CHECK(names("label=backup") == "n1\n");
  CHECK(names("label=tier=cache").empty());
  CHECK(cli({"--root", r, "network", "ls", "-f", "name=n1", "--format", "{{.Labels}}"}).out ==
        "backup=,tier=db\n");
  // Isolation knows the renamed bridge too: every bridge is in the set the rule matches.
  const auto set = gctool::test::run_program({"nft", "list", "set", "ip", "gctool", "bridges"}).out;
  CHECK_THAT(set, Catch::Contains("\"gctmine0\""));
  CHECK_THAT(set, Catch::Contains("\"" + bridge.bridge + "\""));

  const auto files_before = files_under(root.path());
  const auto table_before = nft_table();
  const std::vector<RefusedCreate> cases = {
      {{"-o", "com.docker.network.bridge.name=gctmine0", "x"},
       "bridge name gctmine0 is already used by network n1"},
      {{"-o", "com.docker.network.bridge.name=lo", "x"},
       "bridge name lo is already used by a link of the host"},
      {{"-o", "com.docker.network.bridge.name=a-name-far-too-long", "x"}, "a-name-far-too-long"},
      {{"-o", "com.docker.network.bridge.mtu=1000", "x"},
       "network option \"com.docker.network.bridge.mtu\" is not supported"},
      {{"-o", "novalue", "x"}, "invalid --opt \"novalue\": KEY=VALUE"},
      {{"--label", "=v", "x"}, "invalid --label \"=v\": KEY=VALUE"},
      {{"-d", "ipvlan", "x"}, "network driver \"ipvlan\" is not supported (only bridge)"},
  };
  check_refused_creates(r, cases);
  CHECK(files_under(root.path()) == files_before);
  CHECK(nft_table() == table_before);

  CHECK(cli({"--root", r, "network", "rm", "n1", "n2"}).exit_code == 0);
  {
    net::Netlink nl;
    CHECK_FALSE(net::find_link(nl, "gctmine0"));
  }
  CHECK_THAT(gctool::test::run_program({"nft", "list", "set", "ip", "gctool", "bridges"}).out,
             !Catch::Contains("gctmine0"));
  net::remove_default_network(root.path(), false);
  check_nothing_left(root);
}
