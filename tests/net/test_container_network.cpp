// Containers on networks, end to end through the CLI: two containers talking over a bridge, the
// host reaching a container by address and through a published port on 127.0.0.1, ports refused
// while taken, parallel runs getting distinct addresses, a full /29, invalid input that changes
// nothing, none/host modes, and the attachment released on every path (stop, rm -f, --rm, a
// failed start, a killed supervisor). Each test's "host" is the network namespace its TestRoot
// enters, so bridges, nft tables and sysctls never touch the real host.
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "container_support.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/firewall.hpp"
#include "gctool/net/ipam_store.hpp"
#include "gctool/net/network.hpp"
#include "gctool/net/port_proxy.hpp"
#include "net_support.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// A /prefix subnet 10.A.B.0 with random A and B (the test's namespace has no other routes).
std::string random_subnet(int prefix = 24) {
  static std::mt19937 rng{std::random_device{}()};
  return fmt::format("10.{}.{}.0/{}", 16 + rng() % 200, rng() % 250, prefix);
}

std::string create_network(const TestRoot& root, const std::string& subnet) {
  const std::string name = unique_name("gn");
  const auto result = root.run({"network", "create", "--subnet", subnet, name});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return name;
}

// The page busybox httpd serves: "hello-<name>".
std::vector<std::string> httpd_command(const std::string& name) {
  return {"busybox", "sh", "-c",
          fmt::format("mkdir -p /www && echo hello-{} > /www/index.html && exec httpd -f -p 80 "
                      "-h /www",
                      name)};
}

// A plain HTTP/1.0 GET of / from the calling thread's namespace; the whole response or "".
std::string http_get(const std::string& ip, std::uint16_t port) {
  const auto fd = tcp_connect(ip, port);
  if (!fd.valid()) {
    return "";
  }
  const std::string request = "GET / HTTP/1.0\r\n\r\n";
  if (::write(fd.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    return "";
  }
  std::string response;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
    response.append(buf, static_cast<std::size_t>(n));
  }
  return response;
}

// Retries until the server answers 200 (it may still be starting); the response or "".
std::string wait_http(const std::string& ip, std::uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    auto response = http_get(ip, port);
    if (response.find(" 200 ") != std::string::npos) {
      return response;
    }
    std::this_thread::sleep_for(100ms);
  }
  return "";
}

std::uint16_t free_port() {
  const auto probe = tcp_listen("0.0.0.0", 0);
  return local_port(probe.borrow());
}

// Whether something (the container's proxy) listens on [::1]:port in the test's namespace.
bool ipv6_loopback_taken(std::uint16_t port) {
  try {
    return !net::listen_ipv6_loopback(port).valid();
  } catch (const Error&) {
    return true;
  }
}

std::string run_detached(const TestRoot& root, const std::string& name,
                         std::vector<std::string> flags, std::vector<std::string> command) {
  std::vector<std::string> args = {"run", "-d", "--name", name};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), command.begin(), command.end());
  const auto result = root.run(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return trimmed(result.out);
}

nlohmann::json endpoint(const TestRoot& root, const std::string& container,
                        const std::string& network) {
  const auto info = root.inspect(container);
  REQUIRE_FALSE(info.is_null());
  return info["NetworkSettings"]["Networks"][network];
}

bool one_error_line(const RunResult& r) {
  return r.exit_code == 125 && r.err.rfind("gctool: ", 0) == 0 &&
         std::count(r.err.begin(), r.err.end(), '\n') == 1;
}

std::size_t container_rules() {
  std::size_t n = 0;
  for (const auto& rule : net::list_firewall_rules()) {
    n += rule.comment.rfind("gctool-ctr:", 0) == 0 ? 1 : 0;
  }
  return n;
}

std::size_t allocations(const TestRoot& root) {
  std::size_t n = 0;
  for (const auto& network : net::list_networks(root.root())) {
    n += net::IpamStore(root.root(), network.name, network.subnet, network.gateway).count();
  }
  return n;
}

std::vector<std::string> host_veths() {
  std::vector<std::string> veths;
  for (const auto& link : gctool_links()) {
    if (link.rfind("gv", 0) == 0 || link.rfind("gp", 0) == 0) {
      veths.push_back(link);
    }
  }
  return veths;
}

// What containers leave on their networks: attachments, addresses, veths, port rules.
void check_no_attachment_left(const TestRoot& root) {
  CHECK(net::list_attachments(root.root()).empty());
  CHECK(allocations(root) == 0);
  CHECK(host_veths().empty());
  CHECK(container_rules() == 0);
}

// Removes the containers (rm -f) and every network, checking that nothing of gctool is left in
// the namespace or the root.
void remove_networks_and_check(const TestRoot& root,
                               const std::vector<std::string>& containers = {}) {
  if (!containers.empty()) {
    std::vector<std::string> rm = {"rm", "-f"};
    rm.insert(rm.end(), containers.begin(), containers.end());
    CHECK(root.run(rm).exit_code == 0);
  }
  check_no_attachment_left(root);
  for (const auto& network : net::list_networks(root.root())) {
    if (network.name == net::kDefaultNetwork) {
      net::remove_default_network(root.root(), false);  // the CLI refuses it, as Docker's
      continue;
    }
    const auto result = root.run({"network", "rm", network.name});
    INFO(result.err);
    CHECK(result.exit_code == 0);
  }
  CHECK(gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(root.leaks().empty());
}

// Every file under the root with its contents (overlay mounts of running containers skipped).
std::map<std::string, std::string> state_files(const std::string& root) {
  std::map<std::string, std::string> files;
  namespace fs = std::filesystem;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_directory() && it->path().filename() == "merged") {
      it.disable_recursion_pending();
    } else if (it->is_regular_file() && !it->is_symlink()) {
      files[it->path().string()] = read_text(it->path());
    }
  }
  return files;
}

std::string container_ip_from_logs(const TestRoot& root, const std::string& name) {
  static const std::regex inet(R"(inet (\d+\.\d+\.\d+\.\d+)/)");
  for (int i = 0; i < 200; ++i) {
    const auto logs = root.run({"logs", name});
    std::smatch m;
    if (std::regex_search(logs.out, m, inet)) {
      return m[1];
    }
    std::this_thread::sleep_for(50ms);
  }
  return "";
}

}  // namespace

TEST_CASE("two containers on one network talk by address; the host reaches them", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string subnet = random_subnet();
  const std::string network = create_network(root, subnet);
  const std::string web = unique_name("web");
  const auto id = run_detached(root, web, {"--network", network}, httpd_command(web));

  const auto ep = endpoint(root, web, network);
  const std::string ip = ep["IPAddress"];
  const std::string prefix = subnet.substr(0, subnet.rfind(".0/"));
  CHECK(ip == prefix + ".2");
  CHECK(ep["Gateway"] == prefix + ".1");
  CHECK(ep["IPPrefixLen"] == 24);
  CHECK(ep["MacAddress"].get<std::string>().rfind("02:42:", 0) == 0);

  // The host, by address through the bridge.
  CHECK_THAT(wait_http(ip, 80), Catch::Contains("hello-" + web));

  // Another container, by address; it has its own name and address in /etc/hosts and its
  // network's resolver in resolv.conf.
  const std::string client = unique_name("cli");
  const auto fetched = root.run({"run", "--rm", "--network", network, "--name", client, "--dns",
                                 "10.9.9.9", "busybox", "sh", "-c",
                                 "wget -qO- http://" + ip + "/ && grep -w " + client +
                                     " /etc/hosts && cat /etc/resolv.conf"});
  INFO(fetched.err);
  CHECK(fetched.exit_code == 0);
  CHECK_THAT(fetched.out, Catch::Contains("hello-" + web));
  CHECK_THAT(fetched.out, Catch::Contains(prefix + ".3\t"));
  // On a user network the nameserver is the network's resolver, which forwards to --dns.
  CHECK_THAT(fetched.out,
             Catch::Contains("forwards other names to 10.9.9.9\nnameserver " + prefix + ".1\n"));

  // network inspect lists the server; rm is refused while it is attached.
  const auto inspect = root.run({"network", "inspect", network});
  REQUIRE(inspect.exit_code == 0);
  const auto containers = nlohmann::json::parse(inspect.out).at(0)["Containers"];
  CHECK(containers.size() == 1);
  CHECK(containers[id]["Name"] == web);
  CHECK(containers[id]["IPv4Address"] == ip + "/24");
  const auto refused = root.run({"network", "rm", network});
  CHECK(one_error_line(refused));
  CHECK_THAT(refused.err, Catch::Contains(web));

  CHECK(root.run({"rm", "-f", web}).exit_code == 0);
  CHECK(http_get(ip, 80).empty());
  remove_networks_and_check(root);
}

TEST_CASE("a published port answers on 127.0.0.1 and is refused to a second container", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const auto port = free_port();
  const std::string web = unique_name("web");
  // No --network: the default network `bridge` is created on first use.
  const auto id = run_detached(root, web, {"-p", fmt::format("{}:80", port), "-p", "80/udp"},
                               httpd_command(web));
  CHECK_THAT(wait_http("127.0.0.1", port), Catch::Contains("hello-" + web));
  // [::1] too, as with Docker's proxy: the container has no IPv6 address, its IPv4 one answers.
  CHECK_THAT(wait_http("::1", port), Catch::Contains("hello-" + web));

  const auto info = root.inspect(web);
  CHECK(info["HostConfig"]["NetworkMode"] == "bridge");
  const auto& settings = info["NetworkSettings"];
  CHECK(settings["Ports"]["80/tcp"] ==
        nlohmann::json::parse(fmt::format(R"([{{"HostIp":"0.0.0.0","HostPort":"{}"}}])", port)));
  const std::string udp_port = settings["Ports"]["80/udp"][0]["HostPort"];
  CHECK(std::stoi(udp_port) > 0);
  CHECK(settings["IPAddress"] == settings["Networks"]["bridge"]["IPAddress"]);
  CHECK(settings["IPAddress"].get<std::string>().rfind("172.17.", 0) == 0);

  const auto ps = root.run({"ps"});
  CHECK_THAT(ps.out, Catch::Contains("PORTS"));
  CHECK(ps.out.find("PORTS") < ps.out.find("NAMES"));
  CHECK_THAT(ps.out, Catch::Contains(
                         fmt::format("0.0.0.0:{}->80/tcp, 0.0.0.0:{}->80/udp", port, udp_port)));
  const auto mappings = root.run({"port", web});
  CHECK(mappings.out ==
        fmt::format("80/tcp -> 0.0.0.0:{}\n80/udp -> 0.0.0.0:{}\n", port, udp_port));
  CHECK(root.run({"port", web, "80/tcp"}).out == fmt::format("0.0.0.0:{}\n", port));

  // The port is taken: refused before anything is created, and the first still answers.
  const std::string second = unique_name("second");
  const auto refused = root.run({"run", "-d", "--name", second, "-p", fmt::format("{}:8080", port),
                                 "busybox", "sleep", "100"});
  CHECK(one_error_line(refused));
  CHECK_THAT(refused.err, Catch::Contains("already published by container"));
  CHECK(root.inspect(second).is_null());
  CHECK_THAT(http_get("127.0.0.1", port), Catch::Contains("hello-" + web));

  CHECK(root.run({"rm", "-f", web}).exit_code == 0);
  CHECK(http_get("127.0.0.1", port).empty());
  CHECK(http_get("::1", port).empty());
  CHECK_FALSE(ipv6_loopback_taken(port));
  for (const auto& rule : net::list_firewall_rules()) {
    CHECK(rule.comment != "gctool-ctr:" + id);
  }
  // Free on the host again.
  CHECK(tcp_listen("0.0.0.0", port).valid());
  remove_networks_and_check(root);
}

TEST_CASE("20 containers started in parallel get 20 distinct addresses", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string network = create_network(root, random_subnet());
  const std::string prefix = unique_name("par");
  std::vector<std::string> names;
  std::vector<std::unique_ptr<Background>> runs;
  for (int i = 0; i < 20; ++i) {
    names.push_back(fmt::format("{}-{}", prefix, i));
    runs.push_back(std::make_unique<Background>(
        root, std::vector<std::string>{"run", "-d", "--network", network, "--name", names.back(),
                                       "busybox", "sh", "-c",
                                       "ip -4 addr show dev eth0; exec sleep 1000"}));
  }
  for (auto& run : runs) {
    CHECK(run->wait() == 0);
  }
  std::set<std::string> addresses;
  for (const auto& name : names) {
    const auto inside = container_ip_from_logs(root, name);
    CHECK(inside == endpoint(root, name, network)["IPAddress"]);
    addresses.insert(inside);
  }
  CHECK(addresses.size() == 20);
  CHECK(allocations(root) == 20);
  CHECK(net::list_attachments(root.root()).size() == 20);

  remove_networks_and_check(root, names);
}

TEST_CASE("a /29 network hands out its 5 usable addresses, then refuses cleanly", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string subnet = random_subnet(29);
  const std::string network = create_network(root, subnet);
  const std::string prefix = subnet.substr(0, subnet.rfind(".0/"));
  std::vector<std::string> names;
  std::set<std::string> addresses;
  for (int i = 0; i < 5; ++i) {
    names.push_back(unique_name("full"));
    run_detached(root, names.back(), {"--network", network}, {"busybox", "sleep", "1000"});
    addresses.insert(endpoint(root, names.back(), network)["IPAddress"].get<std::string>());
  }
  CHECK(addresses == std::set<std::string>{prefix + ".2", prefix + ".3", prefix + ".4",
                                           prefix + ".5", prefix + ".6"});
  const auto links_before = gctool_links();
  const auto rules_before = net::list_firewall_rules().size();
  const std::string extra = unique_name("extra");
  const auto full =
      root.run({"run", "-d", "--network", network, "--name", extra, "busybox", "sleep", "1000"});
  CHECK(one_error_line(full));
  CHECK_THAT(full.err, Catch::Contains("no free address in network " + network));
  CHECK(root.inspect(extra).is_null());
  CHECK(gctool_links() == links_before);
  CHECK(net::list_firewall_rules().size() == rules_before);
  CHECK(allocations(root) == 5);
  // Also in the foreground.
  CHECK(one_error_line(root.run({"run", "--rm", "--network", network, "busybox", "true"})));
  CHECK(allocations(root) == 5);

  remove_networks_and_check(root, names);
}

TEST_CASE("invalid networks, ports and addresses are refused and change nothing", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string subnet = random_subnet();
  const std::string prefix = subnet.substr(0, subnet.rfind(".0/"));
  const std::string network = create_network(root, subnet);
  const auto port = free_port();
  const std::string holder = unique_name("holder");
  run_detached(root, holder, {"--network", network, "-p", fmt::format("{}:80", port)},
               {"busybox", "sleep", "1000"});
  const auto bound = tcp_listen("0.0.0.0", 0);
  const auto bound_port = local_port(bound.borrow());

  const auto files_before = state_files(root.root());
  const auto links_before = gctool_links();
  const auto rules_before = net::list_firewall_rules().size();
  const std::vector<std::vector<std::string>> invalid = {
      {"network", "create", "--subnet", "10.0.0.0/33", "x1"},
      {"network", "create", "--subnet", "300.1.1.0/24", "x2"},
      {"network", "create", "--subnet", prefix + ".1/24", "x3"},
      {"network", "create", "--subnet", "10.250.1.0/24", "--gateway", "10.250.2.1", "x4"},
      {"network", "create", "--subnet", prefix + ".128/25", "x5"},
      {"network", "create", "--subnet", "10.250.3.0/24", network},
      {"network", "create", "--subnet", "10.250.4.0/31", "x6"},
      {"run", "--network", "nosuch", "busybox", "true"},
      {"run", "--network", "bad/name", "busybox", "true"},
      {"run", "-p", "70000:80", "busybox", "true"},
      {"run", "-p", "http", "busybox", "true"},
      {"run", "-p", "80:0", "busybox", "true"},
      {"run", "-p", "1.2.3:80:80", "busybox", "true"},
      {"run", "--network", network, "-p", fmt::format("{}:80", port), "busybox", "true"},
      {"run", "-d", "--network", network, "-p", fmt::format("{}:80", port), "busybox", "true"},
      {"run", "--network", network, "-p", fmt::format("{}:80", bound_port), "busybox", "true"},
      {"run", "--network", network, "-p", "9001:80", "-p", "9001:81", "busybox", "true"},
      {"run", "--network", "none", "-p", "80", "busybox", "true"},
      {"run", "--network", "host", "--ip", prefix + ".9", "busybox", "true"},
      {"run", "--network", network, "--ip", "10.251.0.9", "busybox", "true"},
      {"run", "--network", network, "--ip", prefix + ".1", "busybox", "true"},
      {"run", "--network", network, "--ip", prefix + ".2", "busybox", "true"},
      {"run", "--network", network, "--ip", "999.1.1.1", "busybox", "true"},
      {"run", "--network", network, "--mac-address", "zz", "busybox", "true"},
      {"run", "--network", network, "--dns", "resolver", "busybox", "true"},
  };
  for (const auto& args : invalid) {
    const auto result = root.run(args);
    INFO(fmt::format("{}: {}", fmt::join(args, " "), result.err));
    CHECK(one_error_line(result));
  }
  CHECK(state_files(root.root()) == files_before);
  CHECK(gctool_links() == links_before);
  CHECK(net::list_firewall_rules().size() == rules_before);

  CHECK(root.run({"rm", "-f", holder}).exit_code == 0);
  remove_networks_and_check(root);
}

TEST_CASE("network none has loopback only; network host shares the host's namespace", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string host_ns = std::filesystem::read_symlink("/proc/thread-self/ns/net");
  const auto none = root.run({"run", "--rm", "--network", "none", "busybox", "sh", "-c",
                              "ls /sys/class/net; readlink /proc/self/ns/net"});
  CHECK(none.exit_code == 0);
  CHECK_THAT(none.out, Catch::StartsWith("lo\n"));
  CHECK_THAT(none.out, !Catch::Contains(host_ns));

  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  const auto host = root.run({"run", "--rm", "--network", "host", "busybox", "sh", "-c",
                              "readlink /proc/self/ns/net; hostname; cat /etc/resolv.conf"});
  CHECK(host.exit_code == 0);
  CHECK(host.out == host_ns + "\n" + hostname + "\n" + read_text("/etc/resolv.conf"));
  // Neither made a network.
  CHECK(net::list_networks(root.root()).empty());
  CHECK(root.leaks().empty());
}

TEST_CASE(
    "the attachment is released on stop, start, a failed start, --rm and a killed "
    "supervisor",
    "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string network = create_network(root, random_subnet());
  const std::string name = unique_name("life");
  const auto port = free_port();
  const auto id = run_detached(root, name, {"--network", network, "-p", fmt::format("{}:80", port)},
                               httpd_command(name));
  CHECK_THAT(wait_http("127.0.0.1", port), Catch::Contains("hello-" + name));

  // stop: detached, and inspect shows no address.
  CHECK_THAT(wait_http("::1", port), Catch::Contains("hello-" + name));
  CHECK(root.run({"stop", "-t", "1", name}).exit_code == 0);
  check_no_attachment_left(root);
  CHECK_FALSE(ipv6_loopback_taken(port));
  CHECK(endpoint(root, name, network)["IPAddress"] == "");
  CHECK(root.inspect(name)["NetworkSettings"]["Ports"].empty());

  // start: attached again with the same port.
  CHECK(root.run({"start", name}).exit_code == 0);
  CHECK_THAT(wait_http("127.0.0.1", port), Catch::Contains("hello-" + name));
  CHECK_THAT(wait_http("::1", port), Catch::Contains("hello-" + name));
  CHECK(net::list_attachments(root.root()).size() == 1);
  CHECK(endpoint(root, name, network)["IPAddress"] != "");

  // The supervisor killed: the container dies with it; the next ps releases the attachment.
  const int supervisor = root.inspect(name)["Gctool"]["Owner"]["Pid"];
  REQUIRE(supervisor > 0);
  ::kill(supervisor, SIGKILL);
  for (int i = 0; i < 100 && ::kill(supervisor, 0) == 0; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  // (pid 1 may take a moment to die after its parent: ps leaves a live one alone.)
  for (int i = 0; i < 100; ++i) {
    CHECK(root.run({"ps", "-a"}).exit_code == 0);
    if (net::list_attachments(root.root()).empty()) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  check_no_attachment_left(root);
  CHECK(http_get("127.0.0.1", port).empty());
  CHECK_FALSE(ipv6_loopback_taken(port));
  CHECK(root.run({"rm", name}).exit_code == 0);

  // A command that cannot be executed: the start fails after the attach, which is undone.
  const auto missing = root.run({"run", "--network", network, "busybox", "/no/such/command"});
  CHECK(missing.exit_code == 127);
  check_no_attachment_left(root);
  const auto failed = root.run({"ps", "-aq"});
  std::vector<std::string> rm = {"rm", "-f"};
  std::istringstream lines(failed.out);
  for (std::string line; std::getline(lines, line);) {
    rm.push_back(line);
  }
  if (rm.size() > 2) {
    CHECK(root.run(rm).exit_code == 0);
  }

  // Foreground --rm, and -d --rm.
  CHECK(root.run({"run", "--rm", "--network", network, "busybox", "true"}).exit_code == 0);
  check_no_attachment_left(root);
  const std::string brief = unique_name("brief");
  run_detached(root, brief, {"--rm", "--network", network}, {"busybox", "true"});
  for (int i = 0; i < 100 && !root.inspect(brief).is_null(); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  CHECK(root.inspect(brief).is_null());
  check_no_attachment_left(root);
  remove_networks_and_check(root);
}

TEST_CASE("containers on two user networks cannot reach each other; the host reaches both",
          "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string net1 = create_network(root, random_subnet());
  const std::string net2 = create_network(root, random_subnet());
  const std::string web1 = unique_name("web");
  const std::string web2 = unique_name("web");
  run_detached(root, web1, {"--network", net1}, httpd_command(web1));
  run_detached(root, web2, {"--network", net2}, httpd_command(web2));
  const std::string ip1 = endpoint(root, web1, net1)["IPAddress"];
  const std::string ip2 = endpoint(root, web2, net2)["IPAddress"];
  CHECK_THAT(wait_http(ip1, 80), Catch::Contains("hello-" + web1));
  CHECK_THAT(wait_http(ip2, 80), Catch::Contains("hello-" + web2));

  // From a container on each side: its own network's server answers, the other's does not (in
  // either direction), and neither does the other network's gateway-facing path.
  const auto fetch = [&](const std::string& network, const std::string& ip) {
    return root.run({"run", "--rm", "--network", network, "busybox", "timeout", "3", "wget", "-qO-",
                     "http://" + ip + "/"});
  };
  CHECK_THAT(fetch(net1, ip1).out, Catch::Contains("hello-" + web1));
  CHECK_THAT(fetch(net2, ip2).out, Catch::Contains("hello-" + web2));
  const auto across12 = fetch(net1, ip2);
  CHECK(across12.exit_code != 0);
  CHECK(across12.out.empty());
  const auto across21 = fetch(net2, ip1);
  CHECK(across21.exit_code != 0);
  CHECK(across21.out.empty());
  // The default bridge is isolated from user networks too.
  const auto from_default = fetch("bridge", ip1);
  CHECK(from_default.exit_code != 0);
  CHECK(from_default.out.empty());

  // Each network's isolation rule goes with it.
  const auto isolation_rules = [] {
    std::size_t n = 0;
    for (const auto& rule : net::list_firewall_rules()) {
      n += rule.chain == "isolation" ? 1 : 0;
    }
    return n;
  };
  CHECK(isolation_rules() == 3);
  CHECK(root.run({"rm", "-f", web1, web2}).exit_code == 0);
  CHECK(root.run({"network", "rm", net2}).exit_code == 0);
  CHECK(isolation_rules() == 2);
  remove_networks_and_check(root);
}

TEST_CASE("an internal network: its containers talk to each other, nothing crosses its border",
          "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  // The outside world: a namespace of the test's own behind a veth, routed through the host.
  TestNetns outside;
  const std::string host_end = "gctout0";  // the test's namespace has no other
  {
    net::Netlink nl;
    net::create_veth(nl, host_end, "gctpeer0");
    net::add_address(nl, host_end, net::parse_ipv4("10.250.99.1"), 24);
    net::set_link_up(nl, host_end);
    net::move_link_to_netns(nl, "gctpeer0", outside.fd());
    auto far = net::Netlink::in_netns(outside.fd());
    net::add_address(far, "gctpeer0", net::parse_ipv4("10.250.99.2"), 24);
    net::set_link_up(far, "gctpeer0");
    net::set_link_up(far, "lo");
    net::add_default_route(far, net::parse_ipv4("10.250.99.1"));
  }
  UniqueFd listener;
  {
    net::NetNsGuard in_outside(outside.fd());
    listener = tcp_listen("10.250.99.2", 0);
  }
  const auto port = local_port(listener.borrow());
  // It greets every connection and closes it.
  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop) {
      pollfd p{listener.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) == 1) {
        UniqueFd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        const std::string hello = "hello-outside\n";
        (void)!::write(client.get(), hello.data(), hello.size());
      }
    }
  });
  ScopeExit join([&]() noexcept {
    stop = true;
    server.join();
  });

  const std::string open = create_network(root, random_subnet());
  const std::string closed = unique_name("gn");
  const auto created =
      root.run({"network", "create", "--internal", "--subnet", random_subnet(), closed});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  CHECK(root.run({"network", "inspect", "-f", "{{.Internal}}", closed}).out == "true\n");
  CHECK(root.run({"network", "ls", "-f", "name=" + closed, "--format", "{{.Internal}}"}).out ==
        "true\n");

  // Reaching the outside: the server's greeting.
  const auto reach_outside = [&](const std::string& network) {
    return root.run(
        {"run", "--rm", "--network", network, "busybox", "sh", "-c",
         fmt::format("cat /proc/net/route; timeout 5 nc 10.250.99.2 {} </dev/null", port)});
  };
  const auto from_open = reach_outside(open);
  INFO(from_open.out << from_open.err);
  CHECK_THAT(from_open.out, Catch::Contains("hello-outside"));
  const auto from_closed = reach_outside(closed);
  INFO(from_closed.out << from_closed.err);
  CHECK_THAT(from_closed.out, !Catch::Contains("hello-outside"));
  // No default route inside (destination 00000000), as Docker's internal networks.
  CHECK(from_closed.out.find("eth0\t00000000\t") == std::string::npos);
  CHECK(from_open.out.find("eth0\t00000000\t") != std::string::npos);

  // Two containers on the internal network reach each other by name; the outside reaches the
  // open network's server by address through the host, never the internal one's.
  const std::string web_closed = unique_name("web");
  const std::string web_open = unique_name("web");
  run_detached(root, web_closed, {"--network", closed}, httpd_command(web_closed));
  run_detached(root, web_open, {"--network", open}, httpd_command(web_open));
  const auto peer = root.run({"run", "--rm", "--network", closed, "busybox", "timeout", "5", "wget",
                              "-qO-", "http://" + web_closed + "/"});
  CHECK_THAT(peer.out, Catch::Contains("hello-" + web_closed));
  const std::string ip_closed = endpoint(root, web_closed, closed)["IPAddress"];
  const std::string ip_open = endpoint(root, web_open, open)["IPAddress"];
  CHECK_THAT(wait_http(ip_closed, 80), Catch::Contains("hello-" + web_closed));  // the host does
  {
    net::NetNsGuard in_outside(outside.fd());
    CHECK_THAT(wait_http(ip_open, 80), Catch::Contains("hello-" + web_open));
    CHECK_FALSE(tcp_connect(ip_closed, 80).valid());
  }
  // No masquerade for the internal subnet.
  const auto inspected = nlohmann::json::parse(root.run({"network", "inspect", closed}).out);
  const std::string subnet_closed = inspected.at(0)["IPAM"]["Config"][0]["Subnet"];
  const auto table = run_program({"nft", "list", "table", "inet", "gctool"}).out;
  CHECK(table.find("ip saddr " + subnet_closed) == std::string::npos);

  {
    net::Netlink nl;
    net::delete_link(nl, host_end);
  }
  remove_networks_and_check(root, {web_closed, web_open});
}

TEST_CASE("an IPv6 network: containers have both families, reach each other by name over IPv6",
          "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string net6 = unique_name("g6");
  const std::string v6 = "fd00:231:64::";
  {
    // Only the IPv6 subnet given: the IPv4 one comes from the pools, as Docker's.
    const auto created = root.run({"network", "create", "--ipv6", "--subnet", v6 + "/64", net6});
    INFO(created.err);
    REQUIRE(created.exit_code == 0);
  }
  const auto inspected = nlohmann::json::parse(root.run({"network", "inspect", net6}).out).at(0);
  CHECK(inspected["EnableIPv6"] == true);
  CHECK(inspected["IPAM"]["Config"].size() == 2);
  CHECK(inspected["IPAM"]["Config"][0]["Subnet"].get<std::string>().ends_with(".0/16"));
  CHECK(inspected["IPAM"]["Config"][1]["Subnet"] == v6 + "/64");
  CHECK(inspected["IPAM"]["Config"][1]["Gateway"] == v6 + "1");
  CHECK(root.run({"network", "ls", "--format", "{{.Name}} {{.IPv6}}"}).out ==
        fmt::format("{} true\n", net6));

  const std::string web = unique_name("web");
  const std::string cli = unique_name("cli");
  const auto port = free_port();
  const auto web_id = run_detached(root, web, {"--network", net6, "-p", fmt::format("{}:80", port)},
                                   httpd_command(web));
  run_detached(root, cli, {"--network", net6}, {"busybox", "sleep", "60"});
  const auto ep = endpoint(root, web, net6);
  CHECK(ep["GlobalIPv6Address"] == v6 + "2");
  CHECK(ep["GlobalIPv6PrefixLen"] == 64);
  CHECK(ep["IPv6Gateway"] == v6 + "1");
  CHECK(endpoint(root, cli, net6)["GlobalIPv6Address"] == v6 + "3");
  const auto members =
      nlohmann::json::parse(root.run({"network", "inspect", net6}).out).at(0)["Containers"];
  CHECK(members[web_id]["IPv6Address"] == v6 + "2/64");

  // Inside: the address is usable at once (no DAD), the default route goes to the bridge, and
  // each container pings the other by name over IPv6; AAAA answers come from the resolver.
  const auto from_cli = root.run(
      {"exec", cli, "sh", "-c",
       fmt::format("ip -6 addr show dev eth0; ip -6 route; ping -6 -c1 -W2 {0} && echo PING6-OK; "
                   "wget -qO- http://[{1}2]/",
                   web, v6)});
  INFO(from_cli.out + from_cli.err);
  CHECK_THAT(from_cli.out, Catch::Contains("inet6 " + v6 + "3/64"));
  // The global address is usable at once (the link-local one goes through DAD).
  const auto global = from_cli.out.find("inet6 " + v6 + "3/64");
  CHECK(from_cli.out.substr(global, from_cli.out.find('\n', global) - global).find("tentative") ==
        std::string::npos);
  CHECK_THAT(from_cli.out, Catch::Contains("default via " + v6 + "1"));
  CHECK_THAT(from_cli.out, Catch::Contains("PING6-OK"));
  CHECK_THAT(from_cli.out, Catch::Contains("hello-" + web));
  const auto aaaa = root.run({"exec", cli, "nslookup", "-type=AAAA", web});
  INFO(aaaa.out + aaaa.err);
  CHECK_THAT(aaaa.out, Catch::Contains("Address: " + v6 + "2"));
  const auto from_web =
      root.run({"exec", web, "sh", "-c", fmt::format("ping -6 -c1 -W2 {} && echo PING6-OK", cli)});
  INFO(from_web.out + from_web.err);
  CHECK_THAT(from_web.out, Catch::Contains("PING6-OK"));

  // The published port on the host's IPv6 addresses (the bridge's here: the test's namespace has
  // no other), and on 127.0.0.1 as before.
  CHECK_THAT(wait_http(v6 + "1", port), Catch::Contains("hello-" + web));
  CHECK_THAT(wait_http("127.0.0.1", port), Catch::Contains("hello-" + web));

  // A container on another IPv6 network cannot reach this one over IPv6 either.
  const std::string other = unique_name("g6");
  REQUIRE(root.run({"network", "create", "--ipv6", "--subnet", random_subnet(), "--subnet",
                    "fd00:231:65::/64", other})
              .exit_code == 0);
  const auto across = root.run({"run", "--rm", "--network", other, "busybox", "sh", "-c",
                                fmt::format("ping -6 -c1 -W1 {}2 || echo BLOCKED", v6)});
  CHECK_THAT(across.out, Catch::Contains("BLOCKED"));

  // Released on rm: no endpoint (the IPv6 allocation), rule, veth or address is left.
  CHECK(root.run({"rm", "-f", web}).exit_code == 0);
  CHECK(container_rules() == 0);
  CHECK(net::list_attachments(root.root()).size() == 1);
  // The freed address is the next one handed out.
  run_detached(root, web, {"--network", net6}, {"busybox", "sleep", "60"});
  CHECK(endpoint(root, web, net6)["GlobalIPv6Address"] == v6 + "2");
  remove_networks_and_check(root, {web, cli});
}

TEST_CASE("an IPv6 network's published port answers on [::1] while the container runs", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string net6 = unique_name("g6");
  const std::string v6 = "fd00:232:64::";
  REQUIRE(root.run({"network", "create", "--ipv6", "--subnet", v6 + "/64", net6}).exit_code == 0);
  const std::string web = unique_name("web");
  const auto port = free_port();
  run_detached(root, web, {"--network", net6, "-p", fmt::format("{}:80", port)},
               httpd_command(web));
  // Through the supervisor's proxy, to the container's IPv6 address (httpd logs the client:
  // the bridge's IPv6 address, as the proxy connects from the host).
  CHECK_THAT(wait_http("::1", port), Catch::Contains("hello-" + web));
  CHECK_THAT(wait_http("127.0.0.1", port), Catch::Contains("hello-" + web));
  CHECK_THAT(wait_http(v6 + "1", port), Catch::Contains("hello-" + web));
  // Many connections at once, each answered.
  {
    std::vector<UniqueFd> held;
    for (int i = 0; i < 20; ++i) {
      held.push_back(tcp_connect("::1", port));
      CHECK(held.back().valid());
    }
    CHECK_THAT(http_get("::1", port), Catch::Contains("hello-" + web));
  }

  // A second container is refused the port.
  const auto refused = root.run(
      {"run", "-d", "--network", net6, "-p", fmt::format("{}:80", port), "busybox", "sleep", "60"});
  CHECK(one_error_line(refused));
  // rm -f: the proxy ends with the container.
  CHECK(root.run({"rm", "-f", web}).exit_code == 0);
  CHECK(http_get("::1", port).empty());
  CHECK_FALSE(ipv6_loopback_taken(port));

  // A host process holding [::1]:PORT: the start fails with one line and nothing is left.
  {
    const auto taken = net::listen_ipv6_loopback(port);
    REQUIRE(taken.valid());
    const std::string blocked = unique_name("blocked");
    const auto failed = root.run({"run", "-d", "--name", blocked, "--network", net6, "-p",
                                  fmt::format("{}:80", port), "busybox", "sleep", "60"});
    INFO(failed.err);
    CHECK(failed.exit_code == 125);
    CHECK_THAT(failed.err, Catch::Contains("[::1]:" + std::to_string(port)));
    CHECK(std::count(failed.err.begin(), failed.err.end(), '\n') == 1);
    CHECK(root.inspect(blocked).is_null());
    check_no_attachment_left(root);
  }

  // A foreground run serves it too, until its container exits.
  const std::string fg = unique_name("fg");
  std::thread foreground([&] {
    root.run({"run", "--rm", "--name", fg, "--network", net6, "-p", fmt::format("{}:80", port),
              "busybox", "sh", "-c",
              "mkdir -p /www && echo hello-fg > /www/index.html && httpd -p 80 -h /www && "
              "sleep 4"});
  });
  CHECK_THAT(wait_http("::1", port), Catch::Contains("hello-fg"));
  foreground.join();
  CHECK(http_get("::1", port).empty());
  CHECK_FALSE(ipv6_loopback_taken(port));
  remove_networks_and_check(root);
}

TEST_CASE("run --ip6 and network connect --ip6 choose the address, hosts has IPv6 lines",
          "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string net6 = unique_name("g6");
  const std::string v6 = "fd00:233:64::";
  REQUIRE(root.run({"network", "create", "--ipv6", "--subnet", v6 + "/64", net6}).exit_code == 0);
  const std::string net4 = create_network(root, random_subnet());
  const std::string other6 = unique_name("g6");
  const std::string w6 = "fd00:233:65::";
  REQUIRE(root.run({"network", "create", "--ipv6", "--subnet", w6 + "/64", other6}).exit_code == 0);

  const std::string a = unique_name("a");
  run_detached(root, a,
               {"--network", net6, "--ip6", v6 + "99", "--hostname", "ahost", "--add-host",
                "v6peer:fd00:233:99::7", "--add-host", "v6br=[fd00:233:99::8]"},
               {"busybox", "sleep", "60"});
  CHECK(endpoint(root, a, net6)["GlobalIPv6Address"] == v6 + "99");
  CHECK(root.inspect(a)["NetworkSettings"]["Networks"][net6]["IPAMConfig"]["IPv6Address"] ==
        v6 + "99");
  const auto inside = root.run({"exec", a, "sh", "-c", "ip -6 addr show dev eth0; cat /etc/hosts"});
  INFO(inside.out + inside.err);
  CHECK_THAT(inside.out, Catch::Contains("inet6 " + v6 + "99/64"));
  // As Docker's: the IPv4 line, then the IPv6 one, under the hostname and the name.
  CHECK_THAT(inside.out, Catch::Contains(fmt::format("\n{}99\tahost {}\n", v6, a)));
  CHECK_THAT(inside.out, Catch::Contains("\nfd00:233:99::7\tv6peer\n"));
  CHECK_THAT(inside.out, Catch::Contains("\nfd00:233:99::8\tv6br\n"));
  // The next container gets the lowest free address, not the requested one.
  const std::string b = unique_name("b");
  const auto b_id = run_detached(root, b, {"--network", net6}, {"busybox", "sleep", "60"});
  CHECK(endpoint(root, b, net6)["GlobalIPv6Address"] == v6 + "2");
  // inspect shows the first network only: a connected one's address is read from its endpoint.
  const auto ip6_on = [&](const std::string& network) {
    for (const auto& at : net::list_container_attachments(root.root(), b_id)) {
      if (at.network == network && at.ip6) {
        return net::to_string(*at.ip6);
      }
    }
    return std::string();
  };
  const auto ping =
      root.run({"exec", b, "sh", "-c", fmt::format("ping -6 -c1 -W2 {}99 && echo PING6-OK", v6)});
  CHECK_THAT(ping.out, Catch::Contains("PING6-OK"));

  // Bad --ip6: one line, exit 125, no container, nothing attached.
  const auto attachments = net::list_attachments(root.root()).size();
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--network", net6, "--ip6", "fd00:233:64::zz"}, "invalid IPv6 address"},
      {{"--network", net6, "--ip6", "10.0.0.1"}, "invalid IPv6 address"},
      {{"--network", net6, "--ip6", "fd00:999::5"}, "is not in subnet"},
      {{"--network", net6, "--ip6", v6}, "is reserved"},
      {{"--network", net6, "--ip6", v6 + "1"}, "is reserved"},
      {{"--network", net6, "--ip6", v6 + "99"}, "already in use"},
      {{"--network", net4, "--ip6", v6 + "5"}, "has no IPv6 subnet"},
      {{"--ip6", v6 + "5"}, "has no IPv6 subnet"},
      {{"--network", "none", "--ip6", v6 + "5"}, "cannot be used with --network none"},
      {{"--network", net6, "--add-host", "x:fd00::zz"}, "invalid --add-host"},
  };
  for (const auto& [flags, message] : bad) {
    const std::string name = unique_name("bad");
    std::vector<std::string> args = {"run", "-d", "--name", name};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"busybox", "sleep", "60"});
    const auto result = root.run(args);
    INFO(fmt::format("{}: {}", fmt::join(flags, " "), result.err));
    CHECK(one_error_line(result));
    CHECK_THAT(result.err, Catch::Contains(message));
    CHECK(root.inspect(name).is_null());
    CHECK(net::list_attachments(root.root()).size() == attachments);
  }

  // network connect --ip6: the running container gets that address on the new interface.
  for (const auto& [address, message] :
       std::vector<std::pair<std::string, std::string>>{{"fd00:999::5", "is not in subnet"},
                                                        {w6 + "1", "is reserved"},
                                                        {"nonsense", "invalid IPv6 address"}}) {
    const auto refused = root.run({"network", "connect", "--ip6", address, other6, b});
    INFO(refused.err);
    CHECK(one_error_line(refused));
    CHECK_THAT(refused.err, Catch::Contains(message));
  }
  const auto to_v4 = root.run({"network", "connect", "--ip6", v6 + "50", net4, b});
  CHECK(one_error_line(to_v4));
  CHECK(net::list_attachments(root.root()).size() == attachments);
  const auto connected = root.run({"network", "connect", "--ip6", w6 + "42", other6, b});
  INFO(connected.err);
  REQUIRE(connected.exit_code == 0);
  CHECK(ip6_on(other6) == w6 + "42");
  const auto eth1 = root.run({"exec", b, "sh", "-c", "ip -6 addr show dev eth1; cat /etc/hosts"});
  INFO(eth1.out);
  CHECK_THAT(eth1.out, Catch::Contains("inet6 " + w6 + "42/64"));
  CHECK_THAT(eth1.out, Catch::Contains(fmt::format("\n{}42\t", w6)));
  // Kept for the next start, as --ip is.
  CHECK(root.run({"restart", "-t", "1", b}).exit_code == 0);
  CHECK(ip6_on(other6) == w6 + "42");
  remove_networks_and_check(root, {a, b});
}
