// The persisted IPAM pool: a snapshot plus a journal under a lock. Journal replay, torn records,
// compaction, concurrency between processes, crash safety, reconcile, and corruption detection.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
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

net::IpamStore store_for(const TempDir& dir, const std::string& cidr = "10.231.16.0/24",
                         gctool::Durability durability = gctool::Durability::durable) {
  const auto subnet = net::parse_cidr(cidr);
  return net::IpamStore(dir.path(), "n1", subnet, net::Ipv4Address{subnet.address.value + 1},
                        durability);
}

// A /16 pool without fsync, for tests that need many changes.
net::IpamStore fast_store(const TempDir& dir) {
  return store_for(dir, "10.231.0.0/16", gctool::Durability::fast);
}

std::uintmax_t journal_size(const net::IpamStore& store) {
  return std::filesystem::file_size(store.journal_file());
}

void truncate_journal(const net::IpamStore& store, std::uintmax_t size) {
  std::filesystem::resize_file(store.journal_file(), size);
}

// The owners as "id=address" lines: what a user sees, to compare two states.
std::string owners_text(const net::IpamState& state) {
  std::string text;
  for (const auto& [id, address] : state.owners) {
    text += id + "=" + net::to_string(address) + "\n";
  }
  return text;
}

// Runs fn in a child process; returns its exit status (fn's exceptions make it 1).
template <typename Fn>
pid_t fork_child(Fn&& fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      ::_exit(fn());
    } catch (...) {
      ::_exit(1);
    }
  }
  return pid;
}

// Reads every std::uint32_t written to fd until EOF.
std::vector<std::uint32_t> read_values(int fd) {
  std::vector<std::uint32_t> values;
  std::uint32_t value = 0;
  while (::read(fd, &value, sizeof value) == sizeof value) {
    values.push_back(value);
  }
  return values;
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
  const auto journal_before = gctool::read_file(store.journal_file());
  try {
    store.allocate("c5");
    FAIL("allocated a sixth address in a /29");
  } catch (const gctool::Error& e) {
    CHECK(std::string(e.what()).starts_with("no free address in network n1 (10.231.17.8/29)"));
  }
  CHECK(gctool::read_file(store.file()) == before);
  CHECK(gctool::read_file(store.journal_file()) == journal_before);
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
    children.push_back(fork_child([&] {
      ::close(fds[0]);
      const auto a = store_for(dir).allocate("c" + std::to_string(i));
      return ::write(fds[1], &a.value, sizeof a.value) == sizeof a.value ? 0 : 2;
    }));
  }
  ::close(fds[1]);
  for (const auto pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  const auto values = read_values(fds[0]);
  ::close(fds[0]);
  CHECK(std::set<std::uint32_t>(values.begin(), values.end()).size() == 20);
  const auto state = store_for(dir).load();
  CHECK(state.ipam.count() == 20);
  CHECK(state.owners.size() == 20);
}

TEST_CASE("processes allocating and releasing across compactions keep every address distinct") {
  TempDir dir;
  constexpr int kProcesses = 6;
  constexpr int kEach = 200;  // 1200 allocations and 600 releases: several compactions
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(fork_child([&] {
      auto store = fast_store(dir);
      for (int i = 0; i < kEach; ++i) {
        store.allocate("p" + std::to_string(p) + "-" + std::to_string(i));
        if (i % 2 == 1) {
          store.release("p" + std::to_string(p) + "-" + std::to_string(i - 1));
        }
      }
      return 0;
    }));
  }
  for (const auto pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  const auto state = fast_store(dir).load();  // throws if owners and bitmap disagree
  CHECK(state.ipam.count() == kProcesses * kEach / 2);
  for (int p = 0; p < kProcesses; ++p) {
    for (int i = 1; i < kEach; i += 2) {
      CHECK(state.owners.contains("p" + std::to_string(p) + "-" + std::to_string(i)));
    }
  }
  CHECK(journal_size(fast_store(dir)) < net::IpamStore::kCompactAfter * 128);
}

TEST_CASE("a process killed mid-allocation loses and duplicates nothing") {
  // Durable: a few allocations a millisecond apart. Fast: thousands, so the kill also lands
  // inside compactions.
  const auto durability = GENERATE(gctool::Durability::durable, gctool::Durability::fast);
  for (int round = 0; round < 3; ++round) {
    TempDir dir;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = fork_child([&] {
      ::close(fds[0]);
      auto store = store_for(dir, "10.231.0.0/16", durability);
      for (std::uint32_t i = 1;; ++i) {
        store.allocate("c" + std::to_string(i));
        if (i % 3 == 0) {
          store.release("c" + std::to_string(i - 1));
        }
        // Reported only after the commit returned.
        if (::write(fds[1], &i, sizeof i) != sizeof i) {
          return 2;
        }
      }
    });
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + 37 * round));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const auto values = read_values(fds[0]);
    ::close(fds[0]);
    const std::uint32_t last = values.empty() ? 0 : values.back();
    // Committed before the kill: every reported step, and maybe part of the next one.
    auto store = store_for(dir, "10.231.0.0/16", durability);
    const auto state = store.load();  // throws if owners and bitmap disagree
    INFO("reported " << last << ", stored " << state.ipam.count());
    REQUIRE(last > 0);
    // Step i allocates c<i> and, when i is a multiple of 3, releases c<i-1>.
    for (std::uint32_t i = 1; i < last; ++i) {
      CHECK(state.owners.contains("c" + std::to_string(i)) == (i % 3 != 2));
    }
    if (last % 3 != 2) {  // else the unreported next step may have released it
      CHECK(state.owners.contains("c" + std::to_string(last)));
    }
    CHECK(state.owners.size() >= last - last / 3);
    CHECK(state.owners.size() <= last - last / 3 + 1);
    // After the crash, reconciling with the live containers (none) frees everything.
    CHECK(store.reconcile({}) == state.owners.size());
    CHECK(store.count() == 0);
  }
}

TEST_CASE("a new store replays the journal, and compaction keeps every allocation") {
  TempDir dir;
  auto store = fast_store(dir);
  const std::size_t n = net::IpamStore::kCompactAfter * 2 + 10;
  for (std::size_t i = 0; i < n; ++i) {
    store.allocate("c" + std::to_string(i));
  }
  for (std::size_t i = 0; i < n; i += 7) {
    store.release("c" + std::to_string(i));
  }
  store.allocate("late", net::parse_ipv4("10.231.200.9"));
  // Writers compacted on their own: only the records since the last compaction are left.
  CHECK(journal_size(store) < net::IpamStore::kCompactAfter * 128);
  const auto before = fast_store(dir).load();
  CHECK(before.ipam.count() == n - (n + 6) / 7 + 1);
  CHECK(before.owners.at("late") == net::parse_ipv4("10.231.200.9"));
  CHECK_FALSE(before.owners.contains("c0"));
  CHECK(before.owners.contains("c1"));

  store.compact();
  CHECK(journal_size(store) == 0);
  const auto after = fast_store(dir).load();
  CHECK(owners_text(after) == owners_text(before));
  CHECK(after.ipam.cursor() == before.ipam.cursor());
  // Next-fit continues after the last address it handed out, not at a freed one.
  const auto next = store.allocate("next");
  CHECK(next.value == before.owners.at("c" + std::to_string(n - 1)).value + 1);
  CHECK(store.allocate("c1") == before.owners.at("c1"));  // an owner keeps its address
}

TEST_CASE("a torn last record is ignored, and the next writer cuts it off") {
  TempDir dir;
  auto store = store_for(dir);
  const auto a = store.allocate("c1");
  const auto whole = journal_size(store);
  const auto b = store.allocate("c2");
  // A crash in the middle of the second append: part of its record is on disk.
  truncate_journal(store, whole + 50);
  CHECK(owners_text(store.load()) == "c1=" + net::to_string(a) + "\n");
  CHECK(store.count() == 1);
  // The allocation that never completed is not held: the address is free again.
  const auto c = store.allocate("c3");
  CHECK(c == b);
  CHECK(journal_size(store) == whole + 128);
  CHECK(store.load().owners.size() == 2);
  // Garbage of a whole record's length at the end is torn too.
  {
    std::ofstream out(store.journal_file(), std::ios::app | std::ios::binary);
    out << std::string(128, 'x');
  }
  CHECK(store.load().owners.size() == 2);
  store.release("c1");
  CHECK(journal_size(store) == whole + 2 * 128);
  CHECK(owners_text(store.load()) == "c3=" + net::to_string(c) + "\n");
}

TEST_CASE("a damaged record followed by whole ones is corruption, not a torn end") {
  TempDir dir;
  auto store = store_for(dir);
  store.allocate("c1");
  store.allocate("c2");
  std::string journal = gctool::read_file(store.journal_file());
  journal[30] = static_cast<char>(journal[30] ^ 1);  // inside the first record's id
  gctool::write_file(store.journal_file(), journal);
  CHECK_THROWS_WITH(store.load(), Catch::Contains("is damaged but record 1 after it is whole"));
  CHECK_THROWS_WITH(store.allocate("c3"), Catch::Contains("corrupt IPAM file"));
}

TEST_CASE("a crash between compaction and emptying the journal replays nothing twice") {
  TempDir dir;
  auto store = store_for(dir);
  for (const auto* id : {"a", "b", "c"}) {
    store.allocate(id);
  }
  store.release("b");
  const auto journal = gctool::read_file(store.journal_file());
  const auto before = owners_text(store.load());
  store.compact();
  // As if the crash came right after the new snapshot's rename: the old records are still there.
  gctool::write_file(store.journal_file(), journal);
  CHECK(owners_text(store.load()) == before);
  const auto d = store.allocate("d");
  CHECK(owners_text(store.load()) == before + "d=" + net::to_string(d) + "\n");
  CHECK(store.count() == 3);
}

TEST_CASE("container ids longer than the record holds are refused") {
  TempDir dir;
  auto store = store_for(dir);
  CHECK_THROWS_WITH(store.allocate(std::string(net::IpamStore::kMaxIdLength + 1, 'a')),
                    Catch::Contains("invalid container id"));
  CHECK_THROWS_WITH(store.allocate(""), Catch::Contains("invalid container id"));
  CHECK(net::to_string(store.allocate(std::string(net::IpamStore::kMaxIdLength, 'a'))) ==
        "10.231.16.2");
}

TEST_CASE("a corrupt or truncated snapshot is reported, not trusted") {
  TempDir dir;
  auto store = store_for(dir);
  store.allocate("c1");
  store.compact();
  const auto data = gctool::read_file(store.file());
  CHECK_THROWS_WITH(net::decode_ipam_state(data.substr(0, data.size() - 3), "x"),
                    Catch::Contains("corrupt IPAM file x"));
  auto flipped = data;
  flipped[20] = static_cast<char>(flipped[20] ^ 1);
  CHECK_THROWS_WITH(net::decode_ipam_state(flipped, "x"), Catch::Contains("checksum"));
  auto owner_flipped = data;
  owner_flipped[data.size() - 1] = 'z';
  CHECK_THROWS_WITH(net::decode_ipam_state(owner_flipped, "x"), Catch::Contains("checksum"));
  CHECK(net::decode_ipam_state(data, "x").owners.size() == 1);
  gctool::write_file(store.file(), flipped);
  CHECK_THROWS_WITH(store.allocate("c2"), Catch::Contains("checksum"));
}

TEST_CASE("a pool file of another subnet is refused") {
  TempDir dir;
  store_for(dir).allocate("c1");
  CHECK_THROWS_WITH(store_for(dir, "10.231.18.0/24").allocate("c2"),
                    Catch::Contains("is for subnet 10.231.16.0/24"));
}
