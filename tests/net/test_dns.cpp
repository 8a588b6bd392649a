// Name resolution on user-defined networks: the DNS codec against well-formed and malformed
// messages (a fuzz test), and end to end: containers resolving each other by name, alias and
// short id through their network's gctool-resolver, other names forwarded to an upstream the test
// runs on 127.0.0.1 in its own namespace, names gone with their container, the resolver's memory
// bounded under a flood, and no resolver left once the last container is gone.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "container_support.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/dns_message.hpp"
#include "gctool/net/dns_records.hpp"
#include "gctool/net/firewall.hpp"
#include "gctool/net/network.hpp"
#include "gctool/net/resolver.hpp"
#include "net_support.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;
namespace dns = gctool::net::dns;

namespace {

// A query for name (A, IN, recursion desired).
std::vector<std::uint8_t> make_query(std::uint16_t id, const std::string& name,
                                     std::uint16_t type = dns::kTypeA) {
  std::vector<std::uint8_t> m{static_cast<std::uint8_t>(id >> 8),
                              static_cast<std::uint8_t>(id),
                              0x01,
                              0x00,
                              0,
                              1,
                              0,
                              0,
                              0,
                              0,
                              0,
                              0};
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto dot = std::min(name.find('.', start), name.size());
    m.push_back(static_cast<std::uint8_t>(dot - start));
    m.insert(m.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
             name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  m.push_back(0);
  m.insert(m.end(), {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1});
  return m;
}

// The A addresses of a response (answers assumed to use a pointer name, as ours and most do).
struct Answer {
  std::uint16_t id = 0;
  int rcode = -1;
  bool truncated = false;
  std::vector<std::string> addresses;
};

Answer parse_answer(const std::vector<std::uint8_t>& m) {
  Answer a;
  if (m.size() < 12) {
    return a;
  }
  a.id = static_cast<std::uint16_t>(m[0] << 8 | m[1]);
  a.rcode = m[3] & 0xf;
  a.truncated = (m[2] & 0x02) != 0;
  const int answers = m[6] << 8 | m[7];
  std::size_t at = 12;
  while (at < m.size() && m[at] != 0) {
    at += 1 + m[at];
  }
  at += 5;
  for (int i = 0; i < answers && at + 12 <= m.size(); ++i) {
    const int type = m[at + 2] << 8 | m[at + 3];
    const int length = m[at + 10] << 8 | m[at + 11];
    if (type == dns::kTypeA && length == 4 && at + 16 <= m.size()) {
      a.addresses.push_back(
          fmt::format("{}.{}.{}.{}", m[at + 12], m[at + 13], m[at + 14], m[at + 15]));
    }
    at += 12 + static_cast<std::size_t>(length);
  }
  return a;
}

// One UDP exchange with server:53 from the calling thread's namespace; empty on timeout.
std::vector<std::uint8_t> udp_exchange(const std::string& server,
                                       const std::vector<std::uint8_t>& query) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  timeval tv{3, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto to = inet_address(server, 53);
  ::sendto(fd.get(), query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&to),
           sizeof to);
  std::vector<std::uint8_t> buffer(4096);
  const auto n = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
  buffer.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return buffer;
}

// A fake upstream DNS server on 127.0.0.1:53 of the test's namespace: every A query for a name
// under "example" gets 10.231.99.99, any other name NXDOMAIN; it counts what it answered.
class FakeUpstream {
 public:
  FakeUpstream() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    const auto a = inet_address("127.0.0.1", 53);
    if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error("bind 127.0.0.1:53 failed");
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    thread_.join();
  }
  int answered() const { return answered_; }

 private:
  void serve() {
    std::vector<std::uint8_t> buffer(1500);
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        continue;
      }
      sockaddr_in from{};
      socklen_t length = sizeof from;
      const auto n = ::recvfrom(fd_.get(), buffer.data(), buffer.size(), 0,
                                reinterpret_cast<sockaddr*>(&from), &length);
      const std::span message(buffer.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
      if (const auto q = dns::parse_query(message)) {
        const net::Ipv4Address address = net::parse_ipv4("10.231.99.99");
        const bool known = q->name.ends_with("example");
        const auto r = dns::build_response(
            message, *q, known ? dns::Rcode::ok : dns::Rcode::name_error,
            known ? std::span(&address, 1) : std::span<const net::Ipv4Address>(), 60, 512);
        ::sendto(fd_.get(), r.data(), r.size(), 0, reinterpret_cast<const sockaddr*>(&from),
                 length);
        ++answered_;
      }
    }
  }
  UniqueFd fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::string start_detached(const TestRoot& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"run", "-d"});
  const auto result = root.run(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return trimmed(result.out);
}

std::vector<std::string> httpd(const std::string& name) {
  return {"busybox", "sh", "-c",
          fmt::format("mkdir -p /www && echo hello-{} > /www/index.html && exec httpd -f -p 80 "
                      "-h /www",
                      name)};
}

// While it lives, the host's resolv.conf as gctool sees it (GCTOOL_HOST_RESOLV_CONF) names
// 127.0.0.1 alone, where the test runs its upstream. No search line: busybox nslookup asks only
// the search-qualified name then (glibc tries both).
class LoopbackHostResolver {
 public:
  LoopbackHostResolver() {
    write_file(etc_.path() / "resolv.conf", "nameserver 127.0.0.1\n");
    ::setenv("GCTOOL_HOST_RESOLV_CONF", (etc_.path() / "resolv.conf").c_str(), 1);
  }
  ~LoopbackHostResolver() { ::unsetenv("GCTOOL_HOST_RESOLV_CONF"); }
  LoopbackHostResolver(const LoopbackHostResolver&) = delete;
  LoopbackHostResolver& operator=(const LoopbackHostResolver&) = delete;

 private:
  TempDir etc_;
};

// The pids of gctool-resolver processes serving root.
std::vector<pid_t> resolver_processes(const std::string& root) {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const auto cmdline = try_read_file(entry.path() / "cmdline");
    if (cmdline && cmdline->find("gctool-resolver") != std::string::npos &&
        cmdline->find(root) != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

std::uint64_t status_kb(pid_t pid, const std::string& field) {
  const auto text = try_read_file(fmt::format("/proc/{}/status", pid)).value_or("");
  const auto at = text.find(field + ":");
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + field.size() + 1));
}

std::uint64_t pss_kb(pid_t pid) {
  const auto text = try_read_file(fmt::format("/proc/{}/smaps_rollup", pid)).value_or("");
  const auto at = text.find("\nPss:");
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + 5));
}

}  // namespace

TEST_CASE("dns codec: a query is parsed and answered", "[dns]") {
  const auto query = make_query(0x1234, "Web.Example");
  const auto q = dns::parse_query(query);
  REQUIRE(q);
  CHECK(q->id == 0x1234);
  CHECK(q->name == "web.example");
  CHECK(q->type == dns::kTypeA);
  CHECK(q->klass == dns::kClassIN);
  CHECK(q->recursion_desired);
  CHECK(q->question_end == query.size());

  const std::vector<net::Ipv4Address> addresses{net::parse_ipv4("10.1.2.3"),
                                                net::parse_ipv4("10.1.2.4")};
  const auto r = dns::build_response(query, *q, dns::Rcode::ok, addresses, 600, 512);
  const auto a = parse_answer(r);
  CHECK(a.id == 0x1234);
  CHECK(a.rcode == 0);
  CHECK_FALSE(a.truncated);
  CHECK(a.addresses == std::vector<std::string>{"10.1.2.3", "10.1.2.4"});

  // 40 addresses do not fit in 512 bytes: as many as fit, and TC so that the client uses TCP.
  const std::vector<net::Ipv4Address> many(40, net::parse_ipv4("10.9.9.9"));
  const auto big = dns::build_response(query, *q, dns::Rcode::ok, many, 600, 512);
  CHECK(big.size() <= 512);
  const auto cut = parse_answer(big);
  CHECK(cut.truncated);
  CHECK(cut.addresses.size() == (512 - query.size()) / 16);
  CHECK(parse_answer(dns::build_response(query, *q, dns::Rcode::ok, many, 600, 65535))
            .addresses.size() == 40);

  // Not queries: a response, two questions, a compression pointer, a label past the end.
  auto response = query;
  response[2] |= 0x80;
  CHECK_FALSE(dns::parse_query(response));
  auto two = query;
  two[5] = 2;
  CHECK_FALSE(dns::parse_query(two));
  auto pointer = query;
  pointer[12] = 0xc0;
  CHECK_FALSE(dns::parse_query(pointer));
  auto overrun = query;
  overrun[12] = 60;
  CHECK_FALSE(dns::parse_query(overrun));
  CHECK_FALSE(dns::parse_query(std::span(query.data(), query.size() - 1)));
  // A name longer than 255 bytes.
  std::string long_name;
  for (int i = 0; i < 5; ++i) {
    long_name += std::string(60, 'a') + ".";
  }
  long_name.pop_back();
  CHECK_FALSE(dns::parse_query(make_query(1, long_name)));
}

TEST_CASE("dns codec: malformed messages never crash it or make it read out of bounds", "[dns]") {
  // Run under ASan/valgrind this also catches reads past the message: each message is a vector
  // of its exact size.
  std::mt19937 rng(12345);
  const auto base = make_query(7, "svc.network.example");
  std::size_t parsed = 0;
  for (int i = 0; i < 200000; ++i) {
    std::vector<std::uint8_t> m;
    if (i % 2 == 0) {
      m.resize(rng() % 64);
      for (auto& b : m) {
        b = static_cast<std::uint8_t>(rng());
      }
      if (m.size() >= 12) {
        m[2] &= 0x7f;  // a query, often
        m[4] = 0;
        m[5] = 1;
      }
    } else {
      m = base;
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
        m[rng() % m.size()] = static_cast<std::uint8_t>(rng());
      }
      m.resize(rng() % (m.size() + 1));
    }
    const auto q = dns::parse_query(m);
    if (q) {
      ++parsed;
      REQUIRE(q->question_end <= m.size());
      REQUIRE(q->name.size() <= 255);
      const net::Ipv4Address address{0x0a000001};
      const auto r = dns::build_response(m, *q, dns::Rcode::ok, std::span(&address, 1), 1, 512);
      REQUIRE(r.size() <= std::max<std::size_t>(512, q->question_end));
      const auto limit = dns::udp_limit(m, *q);
      REQUIRE(limit >= dns::kUdpLimit);
      REQUIRE(limit <= dns::kMaxUdpLimit);
      const auto cut = dns::truncated_response(m, *q);
      REQUIRE(cut.size() == q->question_end);
      REQUIRE(dns::is_truncated(cut));
    }
  }
  CHECK(parsed > 1000);  // the mutations reach the answering path, not only the refusals
}

TEST_CASE("resolv.conf nameservers are read in order, IPv4 only", "[dns]") {
  const auto servers = net::resolv_conf_nameservers(
      "# comment\nnameserver 10.0.0.2\nsearch x\nnameserver ::1\n  nameserver\t127.0.0.53 # c\n"
      "nameservers 1.1.1.1\n");
  REQUIRE(servers.size() == 2);
  CHECK(net::to_string(servers[0]) == "10.0.0.2");
  CHECK(net::to_string(servers[1]) == "127.0.0.53");
}

TEST_CASE(
    "containers on a user network resolve each other by name, alias and short id; other "
    "names go to the host's resolver",
    "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  // The "host's" resolver: the test's own, on 127.0.0.1 of its namespace, reached by the
  // network's resolver from the host side.
  LoopbackHostResolver host_resolver;
  FakeUpstream upstream;

  const std::string network = unique_name("dn");
  REQUIRE(root.run({"network", "create", "--subnet", "10.231.60.0/24", network}).exit_code == 0);
  const std::string web = unique_name("web");
  std::vector<std::string> args{"--name", web, "--network", network, "--network-alias", "db"};
  const auto httpd_args = httpd(web);
  args.insert(args.end(), httpd_args.begin(), httpd_args.end());
  const auto web_id = start_detached(root, args);
  const std::string web_ip = "10.231.60.2";
  const auto pids = resolver_processes(root.root());
  REQUIRE(pids.size() == 1);
  CHECK(net::resolver_pid(root.root(), network) == pids[0]);

  // From another container: the server by name, alias and short id (HTTP with wget, ping, and
  // busybox nslookup), a name of the outside world through the forwarder.
  const std::string client = unique_name("cli");
  const std::string script = fmt::format(
      "cat /etc/resolv.conf; for n in {0} db {1}; do wget -qO- http://$n/ || echo FAIL-$n; done; "
      "ping -c1 -W2 {0} >/dev/null && echo PING-OK; nslookup outside.example 2>&1; "
      "nslookup {2} 2>&1",
      web, web_id.substr(0, 12), client);
  const auto fetched = root.run(
      {"run", "--rm", "--name", client, "--network", network, "busybox", "sh", "-c", script});
  INFO(fetched.out + fetched.err);
  CHECK(fetched.exit_code == 0);
  CHECK_THAT(fetched.out, Catch::Contains("nameserver 10.231.60.1\n"));
  CHECK_THAT(fetched.out, Catch::Contains("options ndots:0\n"));
  CHECK(fetched.out.find("FAIL-") == std::string::npos);
  std::size_t hellos = 0;
  for (auto at = fetched.out.find("hello-" + web); at != std::string::npos;
       at = fetched.out.find("hello-" + web, at + 1)) {
    ++hellos;
  }
  CHECK(hellos == 3);
  CHECK_THAT(fetched.out, Catch::Contains("PING-OK"));
  CHECK_THAT(fetched.out, Catch::Contains("10.231.99.99"));  // from the fake upstream
  CHECK(upstream.answered() >= 1);
  CHECK_THAT(fetched.out, Catch::Contains("10.231.60.3"));  // the client itself, by name

  // The same answers over UDP and TCP from the host side; unknown names of another type.
  const auto a = parse_answer(udp_exchange("10.231.60.1", make_query(11, web)));
  CHECK(a.id == 11);
  CHECK(a.addresses == std::vector<std::string>{web_ip});
  CHECK(parse_answer(udp_exchange("10.231.60.1", make_query(12, "DB"))).addresses ==
        std::vector<std::string>{web_ip});
  const auto aaaa = parse_answer(udp_exchange("10.231.60.1", make_query(13, web, 28)));
  CHECK(aaaa.rcode == 0);
  CHECK(aaaa.addresses.empty());
  {
    const auto fd = tcp_connect("10.231.60.1", 53);
    REQUIRE(fd.valid());
    auto q = make_query(14, "db");
    std::vector<std::uint8_t> framed{0, static_cast<std::uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());
    REQUIRE(::write(fd.get(), framed.data(), framed.size()) == static_cast<ssize_t>(framed.size()));
    std::vector<std::uint8_t> reply(512);
    std::size_t got = 0;
    for (ssize_t n = 0; (n = ::read(fd.get(), reply.data() + got, reply.size() - got)) > 0;) {
      got += static_cast<std::size_t>(n);
      if (got >= 2 && got >= 2u + (reply[0] << 8 | reply[1])) {
        break;
      }
    }
    REQUIRE(got > 2);
    const auto t = parse_answer(std::vector<std::uint8_t>(
        reply.begin() + 2, reply.begin() + static_cast<std::ptrdiff_t>(got)));
    CHECK(t.id == 14);
    CHECK(t.addresses == std::vector<std::string>{web_ip});
  }

  // Malformed packets and a flood: the resolver keeps answering, its memory stays bounded.
  // Its own memory (heap, stack, rings): code pages are the binary's, shared and reclaimable,
  // and the resolver unmaps them when idle.
  const pid_t resolver = pids[0];
  const auto rss_before = status_kb(resolver, "RssAnon");
  {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const auto to = inet_address("10.231.60.1", 53);
    std::mt19937 rng(99);
    const auto base = make_query(1, "db");
    for (int i = 0; i < 20000; ++i) {
      std::vector<std::uint8_t> m;
      if (i % 3 == 0) {
        m.resize(rng() % 600);
        for (auto& b : m) {
          b = static_cast<std::uint8_t>(rng());
        }
      } else if (i % 3 == 1) {
        m = base;
        m[rng() % m.size()] = static_cast<std::uint8_t>(rng());
      } else {
        m = make_query(static_cast<std::uint16_t>(i), fmt::format("n{}.flood.example", i));
      }
      ::sendto(fd.get(), m.data(), m.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to),
               sizeof to);
    }
  }
  // Two idle checks of the resolver (one a second) after the flood.
  std::this_thread::sleep_for(2500ms);
  CHECK(::kill(resolver, 0) == 0);
  CHECK(parse_answer(udp_exchange("10.231.60.1", make_query(15, web))).addresses ==
        std::vector<std::string>{web_ip});
  const auto rss_after = status_kb(resolver, "RssAnon");
  const auto pss = pss_kb(resolver);
  WARN(fmt::format("resolver RssAnon {} kB before the flood, {} kB after; PSS {} kB", rss_before,
                   rss_after, pss));
  CHECK(rss_after < rss_before + 2048);

  // Gone with its container: the name no longer resolves, and the resolver stops with the last.
  const std::string other = unique_name("oth");
  start_detached(root, {"--name", other, "--network", network, "busybox", "sleep", "60"});
  CHECK(root.run({"rm", "-f", web}).exit_code == 0);
  const auto gone = parse_answer(udp_exchange("10.231.60.1", make_query(16, web)));
  CHECK(gone.rcode == 3);  // forwarded, and the upstream does not know it
  CHECK(gone.addresses.empty());
  CHECK(resolver_processes(root.root()).size() == 1);
  CHECK(root.run({"rm", "-f", other}).exit_code == 0);
  CHECK(resolver_processes(root.root()).empty());
  CHECK_FALSE(net::resolver_pid(root.root(), network));
  CHECK(root.run({"network", "rm", network}).exit_code == 0);
  CHECK(gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(root.leaks().empty());
}

TEST_CASE(
    "the default bridge has no resolver; --dns-search, --dns-option, --add-host and --link "
    "are written as Docker does",
    "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string target = unique_name("tgt");
  start_detached(root, {"--name", target, "busybox", "sleep", "60"});
  const auto out =
      root.run({"run", "--rm", "--link", target + ":alias1", "--dns", "10.9.9.9", "--dns-search",
                "a.example", "--dns-option", "ndots:3", "--add-host", "h1:10.1.1.1", "--add-host",
                "gw:host-gateway", "busybox", "sh", "-c", "cat /etc/resolv.conf /etc/hosts"});
  INFO(out.err);
  CHECK(out.exit_code == 0);
  CHECK_THAT(out.out, Catch::Contains("nameserver 10.9.9.9\nsearch a.example\noptions ndots:3\n"));
  CHECK_THAT(out.out, Catch::Contains("10.1.1.1\th1\n"));
  CHECK_THAT(out.out, Catch::Contains("172.17.0.1\tgw\n"));
  CHECK_THAT(out.out, Catch::Contains("172.17.0.2\talias1 " + target + "\n"));
  CHECK(resolver_processes(root.root()).empty());

  // Bad input: one line, exit 125, no container.
  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"--add-host", "h1"},
                                             {"--add-host", "h1:300.1.1.1"},
                                             {"--add-host", "gw:host-gateway", "--network", "none"},
                                             {"--link", "nosuch"},
                                             {"--network-alias", "x"},
                                             {"--network", "none", "--link", target},
                                             {"--dns-option", "a b"}}) {
    std::vector<std::string> args{"run", "--rm"};
    args.insert(args.end(), bad.begin(), bad.end());
    args.insert(args.end(), {"busybox", "true"});
    const auto r = root.run(args);
    INFO(fmt::format("{} -> {}", fmt::join(bad, " "), r.err));
    CHECK(r.exit_code == 125);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(root.run({"rm", "-f", target}).exit_code == 0);
  CHECK(root.run({"ps", "-a", "-q"}).out.empty());
  // The default network outlives its containers, as Docker's; the library tears it down.
  CHECK(root.run({"network", "rm", "bridge"}).exit_code == 125);
  gctool::net::remove_default_network(root.root(), false);
  CHECK(gctool_links().empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("network connect and disconnect on a running container: interfaces and names follow",
          "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string net1 = unique_name("dc");
  const std::string net2 = unique_name("dc");
  REQUIRE(root.run({"network", "create", "--subnet", "10.231.61.0/24", net1}).exit_code == 0);
  REQUIRE(root.run({"network", "create", "--subnet", "10.231.62.0/24", net2}).exit_code == 0);
  const std::string web = unique_name("web");
  std::vector<std::string> args{"--name", web, "--network", net1};
  const auto httpd_args = httpd(web);
  args.insert(args.end(), httpd_args.begin(), httpd_args.end());
  start_detached(root, args);
  const auto interfaces = [&] {
    return trimmed(root.run({"exec", web, "ls", "/sys/class/net"}).out);
  };
  CHECK(interfaces() == "eth0\nlo");
  // What a fresh container on `network` gets for each name: the page, or FAIL.
  const auto fetch = [&](const std::string& network, const std::string& target) {
    return root
        .run({"run", "--rm", "--network", network, "busybox", "sh", "-c",
              "timeout 3 wget -qO- http://" + target + "/ || echo FAIL"})
        .out;
  };
  CHECK_THAT(fetch(net1, web), Catch::Contains("hello-" + web));

  // Disconnected: its interface is gone and its name no longer resolves.
  const auto d = root.run({"network", "disconnect", net1, web});
  INFO(d.err);
  CHECK(d.exit_code == 0);
  CHECK(interfaces() == "lo");
  CHECK(parse_answer(udp_exchange("10.231.61.1", make_query(1, web))).addresses.empty());
  CHECK_THAT(fetch(net1, web), Catch::Contains("FAIL"));

  // Connected again, with an alias; then to a second network as well.
  const auto c = root.run({"network", "connect", "--alias", "www", net1, web});
  INFO(c.err);
  CHECK(c.exit_code == 0);
  CHECK(interfaces() == "eth0\nlo");
  CHECK_THAT(fetch(net1, web), Catch::Contains("hello-" + web));
  CHECK_THAT(fetch(net1, "www"), Catch::Contains("hello-" + web));
  CHECK(root.run({"network", "connect", "--ip", "10.231.62.50", net2, web}).exit_code == 0);
  CHECK(interfaces() == "eth0\neth1\nlo");
  CHECK(parse_answer(udp_exchange("10.231.62.1", make_query(2, web))).addresses ==
        std::vector<std::string>{"10.231.62.50"});
  CHECK_THAT(fetch(net2, web), Catch::Contains("hello-" + web));
  // net2's containers reach web on net2's address only: net1's is isolated from them.
  const std::string net1_ip =
      parse_answer(udp_exchange("10.231.61.1", make_query(3, web))).addresses.at(0);
  CHECK_THAT(fetch(net2, net1_ip), Catch::Contains("FAIL"));
  const auto inspect = nlohmann::json::parse(root.run({"network", "inspect", net2}).out);
  CHECK(inspect[0]["Containers"].size() == 1);

  // Bad input: one line, exit 125 (or 1), nothing changed.
  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"network", "connect", net2, web},
                                             {"network", "connect", "nosuchnet", web},
                                             {"network", "connect", net1, "nosuchctr"},
                                             {"network", "connect", "--ip", "10.9.9.9", net2, web},
                                             {"network", "disconnect", "bridge", web}}) {
    const auto r = root.run(bad);
    INFO(fmt::format("{} -> {}", fmt::join(bad, " "), r.err));
    // A container that does not exist is Docker's daemon error, exit 1.
    CHECK(r.exit_code == (bad.back() == "nosuchctr" ? 1 : 125));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(interfaces() == "eth0\neth1\nlo");

  CHECK(root.run({"network", "disconnect", net2, web}).exit_code == 0);
  CHECK(interfaces() == "eth0\nlo");
  CHECK(resolver_processes(root.root()).size() == 1);  // net2's went with its last endpoint
  CHECK(root.run({"rm", "-f", web}).exit_code == 0);
  CHECK(resolver_processes(root.root()).empty());
  CHECK(net::list_attachments(root.root()).empty());
  for (const auto& n : {net1, net2}) {
    CHECK(root.run({"network", "rm", n}).exit_code == 0);
  }
  CHECK(gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(root.leaks().empty());
}

TEST_CASE("connected networks come back after a stop and a restart; hosts and resolv.conf follow",
          "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  const std::string net1 = unique_name("rc");
  const std::string net2 = unique_name("rc");
  REQUIRE(root.run({"network", "create", "--subnet", "10.231.63.0/24", net1}).exit_code == 0);
  REQUIRE(root.run({"network", "create", "--subnet", "10.231.64.0/24", net2}).exit_code == 0);
  const std::string web = unique_name("web");
  // A server that exits with 3 when /tmp/die appears: the restart policy starts it again.
  start_detached(
      root, {"--name", web, "--network", net1, "--restart", "on-failure", "busybox", "sh", "-c",
             "rm -f /tmp/die; mkdir -p /www && echo hello > /www/index.html && "
             "httpd -p 80 -h /www; while [ ! -e /tmp/die ]; do sleep 0.1; done; "
             "exit 3"});
  const auto interfaces = [&] {
    return trimmed(root.run({"exec", web, "ls", "/sys/class/net"}).out);
  };
  const auto hosts = [&] { return root.run({"exec", web, "cat", "/etc/hosts"}).out; };
  const auto lookup = [&](const std::string& server, const std::string& name) {
    return parse_answer(udp_exchange(server, make_query(7, name))).addresses;
  };
  const std::vector<std::string> on_net2{"10.231.64.50"};

  REQUIRE(root.run({"network", "connect", "--ip", "10.231.64.50", "--alias", "www2", net2, web})
              .exit_code == 0);
  CHECK(interfaces() == "eth0\neth1\nlo");
  CHECK_THAT(hosts(), Catch::Contains("10.231.64.50\t"));

  // The restart policy: the container exits, comes back on both networks, same names.
  const auto restarts = [&] { return root.inspect(web).value("RestartCount", 0); };
  root.run({"exec", web, "touch", "/tmp/die"});
  for (int i = 0; i < 100 && restarts() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(restarts() == 1);
  for (int i = 0; i < 100 && interfaces() != "eth0\neth1\nlo"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(interfaces() == "eth0\neth1\nlo");
  CHECK(lookup("10.231.64.1", web) == on_net2);
  CHECK(lookup("10.231.64.1", "www2") == on_net2);
  CHECK_THAT(hosts(), Catch::Contains("10.231.64.50\t"));

  // stop and start: the same.
  REQUIRE(root.run({"stop", "-t", "1", web}).exit_code == 0);
  CHECK(lookup("10.231.64.1", web).empty());
  REQUIRE(root.run({"start", web}).exit_code == 0);
  CHECK(interfaces() == "eth0\neth1\nlo");
  CHECK(lookup("10.231.64.1", web) == on_net2);

  // Disconnected while running: the line of /etc/hosts goes, and the next start leaves it out.
  REQUIRE(root.run({"network", "disconnect", net2, web}).exit_code == 0);
  CHECK_THAT(hosts(), !Catch::Contains("10.231.64.50"));
  REQUIRE(root.run({"stop", "-t", "1", web}).exit_code == 0);
  // Stopped: disconnect and connect are remembered for the next start, as Docker's.
  CHECK(root.run({"network", "disconnect", net1, web}).exit_code == 0);
  CHECK(root.run({"network", "disconnect", net1, web}).exit_code == 125);
  CHECK(root.run({"network", "connect", net2, web}).exit_code == 0);
  CHECK(root.run({"network", "connect", net2, web}).exit_code == 125);
  REQUIRE(root.run({"start", web}).exit_code == 0);
  CHECK(interfaces() == "eth0\nlo");
  CHECK(lookup("10.231.63.1", web).empty());
  CHECK(lookup("10.231.64.1", web).size() == 1);

  // A container on the default network (no resolver) gets net1's resolver when it connects.
  const std::string plain = unique_name("plain");
  start_detached(root, {"--name", plain, "busybox", "sleep", "1000"});
  const auto resolv = [&] { return root.run({"exec", plain, "cat", "/etc/resolv.conf"}).out; };
  CHECK_THAT(resolv(), !Catch::Contains("nameserver 10.231.63.1"));
  REQUIRE(root.run({"network", "connect", net1, plain}).exit_code == 0);
  CHECK_THAT(resolv(), Catch::Contains("nameserver 10.231.63.1"));
  CHECK(root.run({"network", "disconnect", net1, plain}).exit_code == 0);
  CHECK_THAT(resolv(), !Catch::Contains("nameserver 10.231.63.1"));

  CHECK(root.run({"rm", "-f", web, plain}).exit_code == 0);
  CHECK(resolver_processes(root.root()).empty());
  CHECK(net::list_attachments(root.root()).empty());
  for (const auto& n : {net1, net2}) {
    CHECK(root.run({"network", "rm", n}).exit_code == 0);
  }
  net::remove_default_network(root.root(), false);
  CHECK(gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(root.leaks().empty());
}

namespace {

// One length-prefixed TCP exchange with server:53; empty on failure.
std::vector<std::uint8_t> tcp_exchange(const std::string& server,
                                       const std::vector<std::uint8_t>& query) {
  const auto fd = tcp_connect(server, 53);
  if (!fd.valid()) {
    return {};
  }
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(query.size() >> 8),
                                static_cast<std::uint8_t>(query.size())};
  out.insert(out.end(), query.begin(), query.end());
  if (::write(fd.get(), out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
    return {};
  }
  std::vector<std::uint8_t> in;
  std::uint8_t buffer[4096];
  ssize_t n = 0;
  while ((in.size() < 2 || in.size() < 2 + static_cast<std::size_t>(in[0] << 8 | in[1])) &&
         (n = ::read(fd.get(), buffer, sizeof buffer)) > 0) {
    in.insert(in.end(), buffer, buffer + n);
  }
  return in.size() < 2 ? std::vector<std::uint8_t>{}
                       : std::vector<std::uint8_t>(in.begin() + 2, in.end());
}

// An upstream on 127.0.0.1:53 (UDP and TCP) that truncates every UDP answer to nothing but the
// TC bit and answers fully over TCP: tc.example has 3 addresses, many.example 40 (more than 512
// bytes).
class TruncatingUpstream {
 public:
  TruncatingUpstream()
      : udp_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), tcp_(tcp_listen("127.0.0.1", 53)) {
    const auto a = inet_address("127.0.0.1", 53);
    if (::bind(udp_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error("bind 127.0.0.1:53 failed");
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~TruncatingUpstream() {
    stop_ = true;
    thread_.join();
  }
  int tcp_answered() const { return tcp_answered_; }

 private:
  static std::vector<net::Ipv4Address> addresses(const std::string& name) {
    std::vector<net::Ipv4Address> out;
    const int count = name == "tc.example" ? 3 : name == "many.example" ? 40 : 0;
    for (int i = 1; i <= count; ++i) {
      out.push_back(net::parse_ipv4(fmt::format("10.231.98.{}", i)));
    }
    return out;
  }
  void serve() {
    std::vector<std::uint8_t> buffer(1500);
    while (!stop_) {
      pollfd p[2] = {{udp_.get(), POLLIN, 0}, {tcp_.get(), POLLIN, 0}};
      if (::poll(p, 2, 100) <= 0) {
        continue;
      }
      if ((p[0].revents & POLLIN) != 0) {
        sockaddr_in from{};
        socklen_t length = sizeof from;
        const auto n = ::recvfrom(udp_.get(), buffer.data(), buffer.size(), 0,
                                  reinterpret_cast<sockaddr*>(&from), &length);
        const std::span message(buffer.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
        if (const auto q = dns::parse_query(message)) {
          const auto r = dns::truncated_response(message, *q);
          ::sendto(udp_.get(), r.data(), r.size(), 0, reinterpret_cast<const sockaddr*>(&from),
                   length);
        }
      }
      if ((p[1].revents & POLLIN) != 0) {
        UniqueFd client(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        std::uint8_t prefix[2];
        if (::recv(client.get(), prefix, 2, MSG_WAITALL) != 2) {
          continue;
        }
        std::vector<std::uint8_t> message(static_cast<std::size_t>(prefix[0] << 8 | prefix[1]));
        if (::recv(client.get(), message.data(), message.size(), MSG_WAITALL) !=
            static_cast<ssize_t>(message.size())) {
          continue;
        }
        if (const auto q = dns::parse_query(message)) {
          const auto found = addresses(q->name);
          auto r = dns::build_response(message, *q,
                                       found.empty() ? dns::Rcode::name_error : dns::Rcode::ok,
                                       found, 60, 65535);
          r.insert(r.begin(),
                   {static_cast<std::uint8_t>(r.size() >> 8), static_cast<std::uint8_t>(r.size())});
          ::send(client.get(), r.data(), r.size(), MSG_NOSIGNAL);
          ++tcp_answered_;
        }
      }
    }
  }
  UniqueFd udp_;
  UniqueFd tcp_;
  std::atomic<bool> stop_{false};
  std::atomic<int> tcp_answered_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a forwarded answer truncated over UDP is asked again over TCP", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  LoopbackHostResolver host_resolver;
  TruncatingUpstream upstream;
  const std::string network = unique_name("tc");
  REQUIRE(root.run({"network", "create", "--subnet", "10.231.66.0/24", network}).exit_code == 0);
  const std::string box = unique_name("box");
  start_detached(root, {"--name", box, "--network", network, "busybox", "sleep", "1000"});
  const std::string resolver = "10.231.66.1";
  const std::vector<std::string> three{"10.231.98.1", "10.231.98.2", "10.231.98.3"};

  // Over UDP, an answer that fits: whole, without TC, fetched from upstream over TCP.
  const auto small = parse_answer(udp_exchange(resolver, make_query(11, "tc.example")));
  CHECK(small.id == 11);
  CHECK(small.rcode == 0);
  CHECK_FALSE(small.truncated);
  CHECK(small.addresses == three);
  CHECK(upstream.tcp_answered() == 1);
  // The same from inside a container (busybox nslookup speaks UDP only).
  const auto lookup = root.run({"exec", box, "nslookup", "tc.example"});
  INFO(lookup.out << lookup.err);
  CHECK_THAT(lookup.out, Catch::Contains("10.231.98.3"));

  // An answer over 512 bytes: a UDP asker without EDNS gets TC and nothing else, one with EDNS
  // (payload 4096) gets it whole, and so does a TCP asker.
  const auto cut = parse_answer(udp_exchange(resolver, make_query(12, "many.example")));
  CHECK(cut.id == 12);
  CHECK(cut.truncated);
  CHECK(cut.addresses.empty());
  auto edns = make_query(13, "many.example");
  edns[11] = 1;  // ARCOUNT: the OPT record below
  edns.insert(edns.end(), {0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0});
  const auto big = parse_answer(udp_exchange(resolver, edns));
  CHECK_FALSE(big.truncated);
  CHECK(big.addresses.size() == 40);
  const auto over_tcp = parse_answer(tcp_exchange(resolver, make_query(14, "many.example")));
  CHECK(over_tcp.id == 14);
  CHECK_FALSE(over_tcp.truncated);
  CHECK(over_tcp.addresses.size() == 40);

  CHECK(root.run({"rm", "-f", box}).exit_code == 0);
  CHECK(root.run({"network", "rm", network}).exit_code == 0);
  CHECK(resolver_processes(root.root()).empty());
  CHECK(gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(root.leaks().empty());
}
