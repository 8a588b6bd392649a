// The pure allocator: next-fit over the bitmap, reserved addresses, exhaustion, large subnets.
#include <set>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/net/ipam.hpp"

using gctool::net::Ipam;
using gctool::net::Ipv4Address;
using gctool::net::parse_cidr;
using gctool::net::parse_ipv4;
using gctool::net::to_string;

TEST_CASE("a /29 hands out exactly its 5 usable addresses, skipping the gateway") {
  Ipam ipam(parse_cidr("10.231.0.8/29"), parse_ipv4("10.231.0.9"));
  CHECK(ipam.capacity() == 5);
  std::vector<std::string> got;
  while (auto a = ipam.allocate()) {
    got.push_back(to_string(*a));
  }
  CHECK(got == std::vector<std::string>{"10.231.0.10", "10.231.0.11", "10.231.0.12", "10.231.0.13",
                                        "10.231.0.14"});
  CHECK(ipam.count() == 5);
  CHECK_FALSE(ipam.allocate());
}

TEST_CASE("network, broadcast and gateway are never allocated, even when asked for") {
  Ipam ipam(parse_cidr("10.231.1.0/24"), parse_ipv4("10.231.1.1"));
  CHECK_THROWS_AS(ipam.allocate(parse_ipv4("10.231.1.0")), gctool::Error);
  CHECK_THROWS_AS(ipam.allocate(parse_ipv4("10.231.1.255")), gctool::Error);
  CHECK_THROWS_AS(ipam.allocate(parse_ipv4("10.231.1.1")), gctool::Error);
  CHECK_THROWS_AS(ipam.allocate(parse_ipv4("10.231.2.7")), gctool::Error);
  CHECK_FALSE(ipam.release(parse_ipv4("10.231.1.1")));
  std::set<std::uint32_t> seen;
  while (auto a = ipam.allocate()) {
    seen.insert(a->value);
  }
  CHECK(seen.size() == 253);
  CHECK_FALSE(seen.contains(parse_ipv4("10.231.1.0").value));
  CHECK_FALSE(seen.contains(parse_ipv4("10.231.1.1").value));
  CHECK_FALSE(seen.contains(parse_ipv4("10.231.1.255").value));
}

TEST_CASE("allocation is next-fit: a released address is not reused at once") {
  Ipam ipam(parse_cidr("10.231.2.0/24"), parse_ipv4("10.231.2.1"));
  const auto a = *ipam.allocate();
  const auto b = *ipam.allocate();
  CHECK(to_string(a) == "10.231.2.2");
  CHECK(to_string(b) == "10.231.2.3");
  CHECK(ipam.release(a));
  CHECK_FALSE(ipam.release(a));
  CHECK(to_string(*ipam.allocate()) == "10.231.2.4");
  CHECK(ipam.count() == 2);
}

TEST_CASE("next-fit wraps around to addresses freed before the cursor") {
  Ipam ipam(parse_cidr("10.231.3.0/28"), parse_ipv4("10.231.3.1"));
  std::vector<Ipv4Address> all;
  while (auto a = ipam.allocate()) {
    all.push_back(*a);
  }
  REQUIRE(all.size() == 13);
  CHECK(ipam.release(all[3]));
  CHECK(*ipam.allocate() == all[3]);
  CHECK_FALSE(ipam.allocate());
}

TEST_CASE("a specific address is taken once") {
  Ipam ipam(parse_cidr("10.231.4.0/24"), parse_ipv4("10.231.4.1"));
  CHECK(ipam.allocate(parse_ipv4("10.231.4.2")));
  CHECK_FALSE(ipam.allocate(parse_ipv4("10.231.4.2")));
  CHECK(ipam.is_allocated(parse_ipv4("10.231.4.2")));
  // The next-fit search steps over it.
  CHECK(to_string(*ipam.allocate()) == "10.231.4.3");
}

TEST_CASE("a /30 has one usable address besides its gateway") {
  Ipam ipam(parse_cidr("10.231.5.4/30"), parse_ipv4("10.231.5.5"));
  CHECK(to_string(*ipam.allocate()) == "10.231.5.6");
  CHECK_FALSE(ipam.allocate());
}

TEST_CASE("subnets outside /8../30 and bad gateways are refused") {
  CHECK_THROWS_AS(Ipam(parse_cidr("10.231.5.0/31"), std::nullopt), gctool::Error);
  CHECK_THROWS_AS(Ipam(parse_cidr("10.0.0.0/7"), std::nullopt), gctool::Error);
  CHECK_THROWS_AS(Ipam(parse_cidr("10.231.5.0/24"), parse_ipv4("10.231.5.255")), gctool::Error);
  CHECK_THROWS_AS(Ipam(parse_cidr("10.231.5.0/24"), parse_ipv4("10.231.6.1")), gctool::Error);
}

TEST_CASE("a /8 uses the bitmap alone and crosses words and octets with carry") {
  Ipam ipam(parse_cidr("10.0.0.0/8"), parse_ipv4("10.0.0.1"));
  CHECK(ipam.words().size() == (1u << 24) / 64);  // 2 MiB, nothing per address beyond it
  CHECK(ipam.capacity() == (1u << 24) - 3);
  for (int i = 0; i < 300; ++i) {
    REQUIRE(ipam.allocate());
  }
  // 300 addresses after .0.2 (the gateway is .0.1): the last is 10.0.1.45.
  CHECK(ipam.is_allocated(parse_ipv4("10.0.1.45")));
  CHECK_FALSE(ipam.is_allocated(parse_ipv4("10.0.1.46")));
  CHECK(ipam.allocate(parse_ipv4("10.255.255.254")));
  CHECK_THROWS_AS(ipam.allocate(parse_ipv4("10.255.255.255")), gctool::Error);
}

TEST_CASE("a nearly full /16 finds the last free addresses through the summary") {
  Ipam ipam(parse_cidr("10.231.0.0/16"), parse_ipv4("10.231.0.1"));
  std::size_t n = 0;
  while (ipam.allocate()) {
    ++n;
  }
  CHECK(n == 65533);
  CHECK(ipam.release(parse_ipv4("10.231.200.17")));
  CHECK(ipam.release(parse_ipv4("10.231.3.3")));
  std::set<std::string> got{to_string(*ipam.allocate()), to_string(*ipam.allocate())};
  CHECK(got == std::set<std::string>{"10.231.200.17", "10.231.3.3"});
  CHECK_FALSE(ipam.allocate());
}

TEST_CASE("from_words restores the allocations and refuses a bitmap freeing reserved bits") {
  Ipam ipam(parse_cidr("10.231.6.0/24"), parse_ipv4("10.231.6.1"));
  ipam.allocate();
  ipam.allocate();
  std::vector<std::uint64_t> words(ipam.words().begin(), ipam.words().end());
  auto copy = Ipam::from_words(ipam.subnet(), ipam.gateway(), words, ipam.cursor());
  CHECK(copy.count() == 2);
  CHECK(to_string(*copy.allocate()) == "10.231.6.4");
  words[0] &= ~std::uint64_t{1};  // frees the network address
  CHECK_THROWS_AS(Ipam::from_words(ipam.subnet(), ipam.gateway(), words, 0), gctool::Error);
}
