// Parsing of addresses, subnets and -p values: the table of what is accepted and refused.
#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/net/ipv4.hpp"
#include "gctool/net/ipv6.hpp"
#include "gctool/net/ports.hpp"

namespace net = gctool::net;

TEST_CASE("CIDR validation table") {
  struct Case {
    const char* text;
    const char* error;  // nullptr: accepted
  };
  const Case cases[] = {
      {"10.0.0.0/8", nullptr},
      {"10.231.5.0/24", nullptr},
      {"192.168.1.4/30", nullptr},
      {"0.0.0.0/0", nullptr},
      {"10.0.0.0/33", "prefix must be 0..32"},
      {"10.0.0.0/-1", "prefix must be 0..32"},
      {"10.0.0.0/", "prefix must be 0..32"},
      {"10.0.0.0/24x", "prefix must be 0..32"},
      {"300.1.1.0/24", "\"300.1.1.0\" is not an IPv4 address"},
      {"10.1.1/24", "is not an IPv4 address"},
      {"10.1.1.0.0/24", "is not an IPv4 address"},
      {"a.b.c.d/24", "is not an IPv4 address"},
      {"10.0.0.0", "expected ADDRESS/PREFIX"},
      {"10.0.0.1/24", "host bits set (did you mean 10.0.0.0/24?)"},
      {"10.1.2.128/16", "host bits set (did you mean 10.1.0.0/16?)"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    if (c.error == nullptr) {
      CHECK(net::to_string(net::parse_cidr(c.text)) == c.text);
    } else {
      CHECK_THROWS_WITH(net::parse_cidr(c.text), Catch::Contains(c.error));
    }
  }
}

TEST_CASE("network arithmetic carries across octets") {
  const auto n = net::parse_cidr("10.1.0.0/23");
  CHECK(net::to_string(n.broadcast()) == "10.1.1.255");
  CHECK(n.size() == 512);
  CHECK(n.contains(net::parse_ipv4("10.1.1.7")));
  CHECK_FALSE(n.contains(net::parse_ipv4("10.1.2.0")));
  CHECK(n.overlaps(net::parse_cidr("10.1.1.0/24")));
  CHECK(n.overlaps(net::parse_cidr("10.0.0.0/8")));
  CHECK_FALSE(n.overlaps(net::parse_cidr("10.1.2.0/24")));
}

TEST_CASE("flag -p values") {
  auto p = net::parse_publish("8080:80");
  CHECK(p.host_port == 8080);
  CHECK(p.container_port == 80);
  CHECK(p.protocol == net::Protocol::tcp);
  CHECK_FALSE(p.host_ip);
  p = net::parse_publish("127.0.0.1:5353:53/udp");
  CHECK(net::to_string(p) == "127.0.0.1:5353->53/udp");
  p = net::parse_publish("80");
  CHECK(p.host_port == 0);
  CHECK(p.container_port == 80);
  p = net::parse_publish("127.0.0.1::80");
  CHECK(p.host_port == 0);
  CHECK(p.host_ip);
  CHECK_THROWS_WITH(net::parse_publish("80:x"), Catch::Contains("bad port \"x\""));
  CHECK_THROWS_WITH(net::parse_publish("70000:80"), Catch::Contains("bad port \"70000\""));
  CHECK_THROWS_WITH(net::parse_publish("80/sctp"), Catch::Contains("tcp or udp"));
  CHECK_THROWS_WITH(net::parse_publish("1.2.3:80:80"), Catch::Contains("not an IPv4 address"));
  CHECK_THROWS_WITH(net::parse_publish("1:2:3:4"), Catch::Contains("expected"));
  CHECK(net::conflicts(net::parse_publish("8080:80"), net::parse_publish("127.0.0.1:8080:81")));
  CHECK_FALSE(net::conflicts(net::parse_publish("8080:80"), net::parse_publish("8080:80/udp")));
  CHECK_FALSE(net::conflicts(net::parse_publish("127.0.0.1:8080:80"),
                             net::parse_publish("127.0.0.2:8080:80")));
}

TEST_CASE("IPv6 CIDR validation table") {
  struct Case {
    const char* text;
    const char* error;  // nullptr: accepted
  };
  const Case cases[] = {
      {"fd00:1::/64", nullptr},
      {"fd00:1:2:3::/64", nullptr},
      {"2001:db8::/32", nullptr},
      {"fd00::/128", nullptr},
      {"fd00::/129", "prefix must be 0..128"},
      {"fd00::/", "prefix must be 0..128"},
      {"fd00::/64x", "prefix must be 0..128"},
      {"fd00:::1/64", "\"fd00:::1\" is not an IPv6 address"},
      {"10.0.0.0/64", "is not an IPv6 address"},
      {"fd00::", "expected ADDRESS/PREFIX"},
      {"fd00::1/64", "host bits set (did you mean fd00::/64?)"},
      {"fd00:1:2:3:4::/63", "host bits set (did you mean fd00:1:2:2::/63?)"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    if (c.error == nullptr) {
      CHECK(net::to_string(net::parse_cidr6(c.text)) == c.text);
    } else {
      CHECK_THROWS_WITH(net::parse_cidr6(c.text), Catch::Contains(c.error));
    }
  }
}

TEST_CASE("IPv6 subnets count their host addresses with carry") {
  const auto n = net::parse_cidr6("fd00:1::/64");
  CHECK(net::to_string(n.host(1)) == "fd00:1::1");
  CHECK(net::to_string(n.host(0x1ff)) == "fd00:1::1ff");
  CHECK(net::to_string(net::parse_cidr6("fd00:1::ff00/120").host(0x100)) == "fd00:1::1:0");
  CHECK(n.offset_of(net::parse_ipv6("fd00:1::2:5")) == 0x20005);
  CHECK_FALSE(n.offset_of(net::parse_ipv6("fd00:2::1")));
  CHECK(n.contains(net::parse_ipv6("fd00:1::ffff:1")));
  CHECK_FALSE(n.contains(net::parse_ipv6("fd00:1:0:1::")));
  CHECK(n.overlaps(net::parse_cidr6("fd00::/16")));
  CHECK_FALSE(n.overlaps(net::parse_cidr6("fd00:2::/64")));
  CHECK_FALSE(net::try_parse_ipv6("10.0.0.1"));
  CHECK_THROWS_WITH(net::parse_ipv6("fd00::g"), "invalid IPv6 address \"fd00::g\"");
}
