// The persisted IPAM pool: atomic commits under a lock, concurrency between processes, crash
// safety, reconcile, and corruption detection.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/net/ipam_store.hpp"
#include "test_support.hpp"

namespace net = gctool::net;
using gctool::test::TempDir;

namespace {

net::IpamStore store_for(const TempDir& dir, const std::string& cidr = "10.231.16.0/24") {
  const auto subnet = net::parse_cidr(cidr);
  return net::IpamStore(dir.path(), "n1", subnet, net::Ipv4Address{subnet.address.value + 1});
}

}  // namespace

TEST_CASE("allocations persist, are idempotent per container, and are released") {
  TempDir dir;
  auto store = store_for(dir);
  const auto a = store.allocate("c1");
  CHECK(net::to_string(a) == "10.231.16.2");
  CHECK(store.allocate("c1") == a);  // the same container keeps its address
  const auto b = store.allocate("c2");
  CHECK(net::to_string(b) == "10.231.16.3");
  CHECK(store_for(dir).count() == 2);  // a new store object reads the file
  CHECK(store.release("c1") == a);
  CHECK_FALSE(store.release("c1"));
  const auto state = store_for(dir).load();
  CHECK(state.owners.size() == 1);
  CHECK(state.owners.at("c2") == b);
}

TEST_CASE("a requested address is granted once") {
  TempDir dir;
  auto store = store_for(dir);
  CHECK(net::to_string(store.allocate("c1", net::parse_ipv4("10.231.16.77"))) == "10.231.16.77");
  CHECK_THROWS_WITH(store.allocate("c2", net::parse_ipv4("10.231.16.77")),
                    Catch::Contains("already in use"));
  CHECK_THROWS_WITH(store.allocate("c2", net::parse_ipv4("10.231.16.1")),
                    Catch::Contains("reserved"));
  CHECK(store.count() == 1);
}

TEST_CASE("a full /29 fails with a clear error and changes nothing") {
  TempDir dir;
  auto store = store_for(dir, "10.231.17.8/29");
  for (int i = 0; i < 5; ++i) {
    store.allocate("c" + std::to_string(i));
  }
  const auto before = gctool::read_file(store.file());
  try {
    store.allocate("c5");
    FAIL("allocated a sixth address in a /29");
  } catch (const gctool::Error& e) {
    CHECK(std::string(e.what()).starts_with("no free address in network n1 (10.231.17.8/29)"));
  }
  CHECK(gctool::read_file(store.file()) == before);
}

TEST_CASE("reconcile frees the addresses of containers that are gone") {
  TempDir dir;
  auto store = store_for(dir);
  for (const auto* id : {"a", "b", "c", "d"}) {
    store.allocate(id);
  }
  CHECK(store.reconcile({"b", "d"}) == 2);
  CHECK(store.count() == 2);
  CHECK(store.reconcile({"b", "d"}) == 0);
}

TEST_CASE("20 processes allocating at once get 20 distinct addresses") {
  TempDir dir;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 20; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      try {
        const auto a = store_for(dir).allocate("c" + std::to_string(i));
        const auto n = ::write(fds[1], &a.value, sizeof a.value);
        ::_exit(n == sizeof a.value ? 0 : 2);
      } catch (...) {
        ::_exit(1);
      }
    }
    children.push_back(pid);
  }
  ::close(fds[1]);
  for (const auto pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::set<std::uint32_t> seen;
  std::uint32_t value = 0;
  while (::read(fds[0], &value, sizeof value) == sizeof value) {
    seen.insert(value);
  }
  ::close(fds[0]);
  CHECK(seen.size() == 20);
  const auto state = store_for(dir).load();
  CHECK(state.ipam.count() == 20);
  CHECK(state.owners.size() == 20);
}

TEST_CASE("a process killed mid-allocation loses and duplicates nothing") {
  for (int round = 0; round < 3; ++round) {
    TempDir dir;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      auto store = store_for(dir, "10.231.0.0/16");
      for (std::uint32_t i = 1;; ++i) {
        store.allocate("c" + std::to_string(i));
        // Reported only after the commit returned.
        if (::write(fds[1], &i, sizeof i) != sizeof i) {
          ::_exit(2);
        }
      }
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + 37 * round));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::uint32_t last = 0;
    std::uint32_t value = 0;
    while (::read(fds[0], &value, sizeof value) == sizeof value) {
      last = value;
    }
    ::close(fds[0]);
    // Committed before the kill: every reported one, and maybe one more not yet reported.
    const auto state = store_for(dir, "10.231.0.0/16").load();  // throws if inconsistent
    INFO("reported " << last << ", stored " << state.ipam.count());
    CHECK(last > 0);
    CHECK((state.ipam.count() == last || state.ipam.count() == last + 1));
    CHECK(state.owners.size() == state.ipam.count());
    for (std::uint32_t i = 1; i <= last; ++i) {
      CHECK(state.owners.contains("c" + std::to_string(i)));
    }
  }
}

TEST_CASE("a corrupt or truncated pool file is reported, not trusted") {
  TempDir dir;
  auto store = store_for(dir);
  store.allocate("c1");
  const auto data = gctool::read_file(store.file());
  CHECK_THROWS_WITH(net::decode_ipam_state(data.substr(0, data.size() - 3), "x"),
                    Catch::Contains("corrupt IPAM file x"));
  auto flipped = data;
  flipped[20] = static_cast<char>(flipped[20] ^ 1);
  CHECK_THROWS_WITH(net::decode_ipam_state(flipped, "x"), Catch::Contains("checksum"));
  CHECK(net::decode_ipam_state(data, "x").owners.size() == 1);
}

TEST_CASE("a pool file of another subnet is refused") {
  TempDir dir;
  store_for(dir).allocate("c1");
  CHECK_THROWS_WITH(store_for(dir, "10.231.18.0/24").allocate("c2"),
                    Catch::Contains("is for subnet 10.231.16.0/24"));
}
