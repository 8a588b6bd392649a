// /etc/hosts and /etc/resolv.conf contents for containers.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "gctool/net/dns_files.hpp"

namespace net = gctool::net;

TEST_CASE("hosts has localhost and the container's own name and address") {
  const auto hosts = net::hosts_file_content("web1", net::parse_ipv4("10.231.0.5"));
  CHECK_THAT(hosts, Catch::StartsWith("127.0.0.1\tlocalhost\n"));
  CHECK_THAT(hosts, Catch::Contains("\n10.231.0.5\tweb1\n"));
  CHECK_THAT(net::hosts_file_content("solo", std::nullopt), Catch::Contains("127.0.1.1\tsolo\n"));
}

TEST_CASE("resolv.conf keeps the host's resolvers, search and options") {
  const auto out = net::resolv_conf_content(
      "# generated\nnameserver 10.255.255.53\nsearch example.com\noptions ndots:2\n",
      std::vector<std::string>{});
  CHECK(out == "nameserver 10.255.255.53\nsearch example.com\noptions ndots:2\n");
}

TEST_CASE("loopback resolvers are dropped; --dns or a comment takes their place") {
  const std::string host = "nameserver 127.0.0.53\noptions edns0\n";
  const auto none = net::resolv_conf_content(host, std::vector<std::string>{});
  CHECK_THAT(none, Catch::StartsWith("# gctool: no nameserver: the host's (127.0.0.53) is a "
                                     "loopback resolver"));
  CHECK_THAT(none, Catch::Contains("--dns"));
  CHECK_THAT(none, !Catch::Contains("nameserver 127"));
  CHECK_THAT(none, Catch::EndsWith("options edns0\n"));
  CHECK(net::resolv_conf_content(host, {"1.1.1.1", "9.9.9.9"}) ==
        "nameserver 1.1.1.1\nnameserver 9.9.9.9\noptions edns0\n");
  CHECK_THAT(
      net::resolv_conf_content("nameserver ::1\nnameserver 8.8.8.8\n", std::vector<std::string>{}),
      Catch::Equals("nameserver 8.8.8.8\n"));
  CHECK(net::is_loopback_nameserver("127.1.2.3"));
  CHECK(net::is_loopback_nameserver("::1"));
  CHECK_FALSE(net::is_loopback_nameserver("10.0.0.1"));
  CHECK_FALSE(net::is_loopback_nameserver("fe80::1%eth0"));
}
