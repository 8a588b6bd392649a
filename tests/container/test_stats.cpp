// What `stats` computes from the kernel's figures: a network namespace's traffic from its
// /proc/PID/net/dev, and CPU % from two samples.
#include <catch2/catch.hpp>

#include "gctool/container/stats.hpp"

using namespace gctool::container;

TEST_CASE("net/dev traffic sums every interface but lo", "[stats]") {
  const std::string text =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    "
      "0    0     0       0          0\n"
      "  eth0:    2048      20    0    0    0     0          0         0      648       8    0    "
      "0    0     0       0          0\n"
      "  eth1:2      1    0    0    0     0          0         0        3       1    0    0    0  "
      "   0       0          0\n";
  const auto [rx, tx] = parse_net_dev(text);
  CHECK(rx == 2050u);
  CHECK(tx == 651u);
  CHECK(parse_net_dev("") == std::pair<std::uint64_t, std::uint64_t>{0, 0});
}

TEST_CASE("CPU % is CPU time over wall time, 100 per busy CPU", "[stats]") {
  Usage before{.running = true, .taken_ns = 1'000'000'000, .cpu_ns = 5'000'000};
  Usage after = before;
  after.taken_ns += 1'000'000'000;
  after.cpu_ns += 1'500'000'000;  // one and a half CPUs busy
  CHECK(cpu_percent(before, after) == Approx(150.0));
  after.running = false;
  CHECK(cpu_percent(before, after) == 0.0);
  CHECK(cpu_percent(after, after) == 0.0);
}
