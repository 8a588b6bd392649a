// A port published on 127.0.0.1 is for the host's own connections only (the class of moby
// #45610). A neighbour on the bridge (a namespace the test makes, with a veth on the bridge)
// sends a hand-made TCP SYN for 127.0.0.1:PORT to the bridge's MAC from a static C program over
// AF_PACKET: no SYN-ACK may come back, neither from the container behind the port nor from a
// host service bound to 127.0.0.1. The host itself still connects, and a port published on all
// addresses still answers the neighbour (which also shows the probe works).
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "container_support.hpp"
#include "gctool/net/firewall.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/network.hpp"
#include "net_support.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

// synprobe IFNAME DSTMAC SRCIP DSTIP DPORT: sends a SYN in a raw frame and waits 2 s for a
// SYN-ACK to it. Exit 0: a SYN-ACK came (from any address), 1: none, 2: error.
constexpr const char* kProbeSource = R"(
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned short csum(const unsigned char *p, size_t len, unsigned long sum) {
  for (; len > 1; p += 2, len -= 2) sum += (unsigned long)(p[0] << 8 | p[1]);
  if (len) sum += (unsigned long)(p[0] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (unsigned short)~sum;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 6) return 2;
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
  if (fd < 0) { perror("socket"); return 2; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) { perror("SIOCGIFINDEX"); return 2; }
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { perror("SIOCGIFHWADDR"); return 2; }
  unsigned char frame[54];
  memset(frame, 0, sizeof frame);
  unsigned int m[6];
  if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) return 2;
  for (int i = 0; i < 6; i++) frame[i] = (unsigned char)m[i];
  memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
  frame[12] = 0x08;
  struct sockaddr_ll ll;
  memset(&ll, 0, sizeof ll);
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_IP);
  ll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&ll, sizeof ll) < 0) { perror("bind"); return 2; }

  struct iphdr *ip = (struct iphdr *)(frame + 14);
  ip->version = 4;
  ip->ihl = 5;
  ip->tot_len = htons(40);
  ip->id = htons(0x4242);
  ip->ttl = 64;
  ip->protocol = IPPROTO_TCP;
  if (inet_pton(AF_INET, argv[3], &ip->saddr) != 1 || inet_pton(AF_INET, argv[4], &ip->daddr) != 1) return 2;
  ip->check = htons(csum((unsigned char *)ip, 20, 0));
  struct tcphdr *tcp = (struct tcphdr *)(frame + 34);
  unsigned short sport = (unsigned short)(20000 + getpid() % 30000);
  tcp->source = htons(sport);
  tcp->dest = htons((unsigned short)atoi(argv[5]));
  tcp->seq = htonl(0x01020304);
  tcp->doff = 5;
  tcp->syn = 1;
  tcp->window = htons(65535);
  const unsigned char *s = (const unsigned char *)&ip->saddr, *d = (const unsigned char *)&ip->daddr;
  unsigned long pseudo = (unsigned long)(s[0] << 8 | s[1]) + (unsigned long)(s[2] << 8 | s[3]) +
                         (unsigned long)(d[0] << 8 | d[1]) + (unsigned long)(d[2] << 8 | d[3]) +
                         IPPROTO_TCP + 20;
  tcp->check = htons(csum((unsigned char *)tcp, 20, pseudo));

  double start = now(), last_send = 0;
  while (now() - start < 2.0) {
    if (now() - last_send > 0.5) {
      if (sendto(fd, frame, sizeof frame, 0, (struct sockaddr *)&ll, sizeof ll) != sizeof frame) {
        perror("sendto");
        return 2;
      }
      last_send = now();
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    unsigned char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 34 + 20 || buf[12] != 0x08 || buf[13] != 0) continue;
    struct iphdr *rip = (struct iphdr *)(buf + 14);
    if (rip->protocol != IPPROTO_TCP || n < 14 + rip->ihl * 4 + 20) continue;
    struct tcphdr *rtcp = (struct tcphdr *)(buf + 14 + rip->ihl * 4);
    if (ntohs(rtcp->dest) == sport && rtcp->syn && rtcp->ack && ntohl(rtcp->ack_seq) == 0x01020305) {
      char from[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &rip->saddr, from, sizeof from);
      printf("SYN-ACK from %s:%u\n", from, ntohs(rtcp->source));
      return 0;
    }
  }
  return 1;
}
)";

// The probe, compiled once per test run.
std::string probe_binary(const TempDir& dir) {
  const auto source = dir.path() / "synprobe.c";
  const auto binary = dir.path() / "synprobe";
  std::ofstream(source) << kProbeSource;
  const auto built = run_program({"gcc", "-static", "-O1", "-o", binary.string(), source.string()});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  return binary.string();
}

// A namespace with a veth whose other end is a port of `bridge`, holding address/prefix: a
// neighbour of the containers on that bridge. The host end goes away with the object.
class Neighbour {
 public:
  Neighbour(const std::string& bridge, const std::string& address, int prefix)
      : host_end_(unique_name("gtn").substr(0, 11)) {
    net::Netlink nl;
    net::create_veth(nl, host_end_, "nb" + host_end_.substr(3));
    net::set_link_master(nl, host_end_, bridge);
    net::set_link_up(nl, host_end_);
    net::move_link_to_netns(nl, "nb" + host_end_.substr(3), ns_.fd());
    auto inside = net::Netlink::in_netns(ns_.fd());
    net::rename_link(inside, "nb" + host_end_.substr(3), "eth0");
    net::add_address(inside, "eth0", net::parse_ipv4(address), prefix);
    net::set_link_up(inside, "eth0");
    net::set_link_up(inside, "lo");
  }
  ~Neighbour() {
    net::Netlink nl;
    net::try_delete_link(nl, host_end_);
  }

  // Runs argv inside the neighbour's namespace.
  RunResult run(const std::vector<std::string>& argv) const {
    net::NetNsGuard guard(ns_.fd());
    return run_program(argv);
  }

 private:
  TestNetns ns_;
  std::string host_end_;
};

std::uint16_t free_port() {
  const auto probe = tcp_listen("0.0.0.0", 0);
  return local_port(probe.borrow());
}

bool http_answers(const std::string& ip, std::uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    if (const auto fd = tcp_connect(ip, port); fd.valid()) {
      const std::string request = "GET / HTTP/1.0\r\n\r\n";
      char buf[64] = {};
      if (::write(fd.get(), request.data(), request.size()) > 0 &&
          ::read(fd.get(), buf, sizeof buf - 1) > 0 &&
          std::string(buf).find(" 200 ") != std::string::npos) {
        return true;
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

}  // namespace

TEST_CASE("a port published on 127.0.0.1 is refused to a neighbour on the bridge", "[root]") {
  if (!is_root()) {
    return;
  }
  TempDir tmp;
  const auto probe = probe_binary(tmp);
  TestRoot root;
  static std::mt19937 rng{std::random_device{}()};
  const std::string prefix = fmt::format("10.{}.{}", 16 + rng() % 200, rng() % 250);
  const std::string network = unique_name("gn");
  REQUIRE(root.run({"network", "create", "--subnet", prefix + ".0/24", network}).exit_code == 0);
  const auto bridge = net::find_network(root.root(), network).bridge;

  const auto local_port = free_port();
  auto public_port = free_port();
  while (public_port == local_port) {
    public_port = free_port();
  }
  const std::string web = unique_name("web");
  const auto started =
      root.run({"run", "-d", "--name", web, "--network", network, "-p",
                fmt::format("127.0.0.1:{}:80", local_port), "-p", fmt::format("{}:80", public_port),
                "busybox", "sh", "-c",
                "mkdir /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"});
  INFO(started.err);
  REQUIRE(started.exit_code == 0);
  // The host reaches both.
  CHECK(http_answers("127.0.0.1", local_port));
  CHECK(http_answers("127.0.0.1", public_port));
  // A host service on 127.0.0.1 (route_localnet is on for the bridge).
  const auto host_service = tcp_listen("127.0.0.1", 0);
  const auto host_port = ::gctool::test::local_port(host_service.borrow());

  std::string bridge_mac;
  {
    net::Netlink nl;
    const auto link = net::find_link(nl, bridge);
    REQUIRE(link);
    REQUIRE(link->mac);
    bridge_mac = net::to_string(*link->mac);
  }
  {
    const Neighbour neighbour(bridge, prefix + ".200", 24);
    const auto synack = [&](const std::string& dst, std::uint16_t port) {
      const auto r =
          neighbour.run({probe, "eth0", bridge_mac, prefix + ".200", dst, std::to_string(port)});
      INFO(dst << ":" << port << ": " << r.out << r.err);
      REQUIRE(r.exit_code != 2);
      return r.exit_code == 0;
    };
    // All addresses: the neighbour connects through the gateway address (the probe works).
    CHECK(synack(prefix + ".1", public_port));
    // The loopback binding and the host's loopback service: nothing comes back.
    CHECK_FALSE(synack("127.0.0.1", local_port));
    CHECK_FALSE(synack("127.0.0.1", host_port));
    // The host still does.
    CHECK(http_answers("127.0.0.1", local_port));
  }

  CHECK(root.run({"rm", "-f", web}).exit_code == 0);
  for (const auto& rule : net::list_firewall_rules()) {
    CHECK(rule.comment.rfind("gctool-ctr:", 0) != 0);
  }
  CHECK(root.run({"network", "rm", network}).exit_code == 0);
  CHECK_FALSE(net::firewall_table_exists());
  CHECK(root.leaks().empty());
}
