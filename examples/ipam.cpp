// The IPv4 allocator on its own: hands out every address of a subnet but the network, broadcast
// and gateway addresses, releases the first, and gets it again as the only one free:
//   example_ipam 10.88.0.0/29 10.88.0.1
#include <cstdio>
#include <exception>
#include <optional>

#include <fmt/format.h>

#include "gctool/net/ipam.hpp"
#include "gctool/net/ipv4.hpp"

namespace net = gctool::net;

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: {} SUBNET GATEWAY\n", argv[0]);
    return 2;
  }
  try {
    net::Ipam ipam(net::parse_cidr(argv[1]), net::parse_ipv4(argv[2]));
    fmt::print("{}: {} addresses to hand out\n", net::to_string(ipam.subnet()), ipam.capacity());
    std::optional<net::Ipv4Address> first;
    while (const std::optional<net::Ipv4Address> address = ipam.allocate()) {
      fmt::print("allocated {}\n", net::to_string(*address));
      if (!first) {
        first = address;
      }
    }
    fmt::print("full: {} of {}\n", ipam.count(), ipam.capacity());
    if (first && ipam.release(*first)) {
      fmt::print("released {}\n", net::to_string(*first));
    }
    if (const auto again = ipam.allocate()) {
      fmt::print("allocated {} again\n", net::to_string(*again));
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_ipam: {}\n", e.what());
    return 1;
  }
}
