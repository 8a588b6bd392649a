// The v2 driver against a fake unified hierarchy: the files and values it writes.
#include <catch2/catch.hpp>

#include <future>
#include <memory>
#include <thread>

#include "fake_tree.hpp"
#include "gctool/cgroup/handle.hpp"
#include "gctool/cgroup/v2_driver.hpp"
#include "gctool/core/error.hpp"
#include "test_support.hpp"

using namespace gctool::cgroup;
using gctool::cgroup::test::put;
using gctool::cgroup::test::put_dir;
using gctool::cgroup::test::remove_files;
using gctool::cgroup::test::slurp;

namespace {

const std::initializer_list<const char*> kLevelFiles = {"cgroup.controllers",
                                                        "cgroup.subtree_control", "cgroup.procs"};
const std::initializer_list<const char*> kLeafFiles = {"cgroup.controllers",
                                                       "cgroup.subtree_control",
                                                       "cgroup.procs",
                                                       "cgroup.kill",
                                                       "memory.max",
                                                       "memory.swap.max",
                                                       "cpu.max",
                                                       "cpu.weight",
                                                       "cpuset.cpus",
                                                       "cpuset.mems",
                                                       "pids.max"};

// root (controllers available: cpuset cpu io memory pids), root/gctool, root/gctool/c1.
struct FakeV2 {
  gctool::test::TempDir tmp{"cg-v2"};
  std::filesystem::path root = tmp.path();
  std::shared_ptr<const V2Driver> driver = std::make_shared<V2Driver>(root);

  FakeV2() {
    put_dir(root, kLevelFiles);
    put(root / "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    put_dir(root / "gctool", kLevelFiles);
    put(root / "gctool" / "cgroup.controllers", "cpuset cpu io memory pids\n");
    put_dir(root / "gctool" / "c1", kLeafFiles);
  }
};

}  // namespace

TEST_CASE("v2 create enables controllers in every ancestor, not in the leaf", "[cgroup][v2]") {
  FakeV2 fake;
  fake.driver->create("gctool/c1", Resources{});
  CHECK(slurp(fake.root / "cgroup.subtree_control") == "+cpu +cpuset +io +memory +pids");
  CHECK(slurp(fake.root / "gctool" / "cgroup.subtree_control") == "+cpu +cpuset +io +memory +pids");
  CHECK(slurp(fake.root / "gctool" / "c1" / "cgroup.subtree_control").empty());
}

TEST_CASE("v2 create only adds controllers that are not enabled yet", "[cgroup][v2]") {
  FakeV2 fake;
  put(fake.root / "cgroup.subtree_control", "cpu memory\n");
  fake.driver->create("gctool/c1", Resources{});
  // The kernel reads "+cpuset +pids" as an addition; the fake file shows what was written.
  CHECK(slurp(fake.root / "cgroup.subtree_control") == "+cpuset +io +pids");
}

TEST_CASE("v2 create fails before creating anything when a needed controller is missing",
          "[cgroup][v2]") {
  FakeV2 fake;
  put(fake.root / "cgroup.controllers", "cpu memory\n");
  Resources r;
  r.pids_limit = 10;
  try {
    fake.driver->create("gctool/new", r);
    FAIL("create succeeded without the pids controller");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOTSUP);
    CHECK_THAT(e.what(), Catch::Contains("pids"));
  }
  CHECK_FALSE(std::filesystem::exists(fake.root / "gctool" / "new"));
}

TEST_CASE("v2 apply writes every resource in the v2 format", "[cgroup][v2]") {
  FakeV2 fake;
  Resources r;
  r.memory_bytes = 64 << 20;
  r.nano_cpus = 1500000000;
  r.cpu_shares = 1024;
  r.cpuset_cpus = "0";
  r.cpuset_mems = "0";
  r.pids_limit = 5;
  fake.driver->apply("gctool/c1", r);
  const auto leaf = fake.root / "gctool" / "c1";
  CHECK(slurp(leaf / "memory.max") == "67108864");
  CHECK(slurp(leaf / "memory.swap.max") == "0");
  CHECK(slurp(leaf / "cpu.max") == "150000 100000");
  CHECK(slurp(leaf / "cpu.weight") == "39");
  CHECK(slurp(leaf / "cpuset.cpus") == "0");
  CHECK(slurp(leaf / "cpuset.mems") == "0");
  CHECK(slurp(leaf / "pids.max") == "5");
}

TEST_CASE("v2 apply skips swap when the host has no swap accounting", "[cgroup][v2]") {
  FakeV2 fake;
  std::filesystem::remove(fake.root / "gctool" / "c1" / "memory.swap.max");
  Resources r;
  r.memory_bytes = 32 << 20;
  fake.driver->apply("gctool/c1", r);
  CHECK(slurp(fake.root / "gctool" / "c1" / "memory.max") == "33554432");
  CHECK_FALSE(std::filesystem::exists(fake.root / "gctool" / "c1" / "memory.swap.max"));
}

TEST_CASE("v2 apply leaves unset resources alone", "[cgroup][v2]") {
  FakeV2 fake;
  Resources r;
  r.pids_limit = 7;
  fake.driver->apply("gctool/c1", r);
  CHECK(slurp(fake.root / "gctool" / "c1" / "pids.max") == "7");
  CHECK(slurp(fake.root / "gctool" / "c1" / "memory.max").empty());
  CHECK(slurp(fake.root / "gctool" / "c1" / "cpu.max").empty());
}

TEST_CASE("v2 processes, stats and OOM kills are read from the cgroup files", "[cgroup][v2]") {
  FakeV2 fake;
  const auto leaf = fake.root / "gctool" / "c1";
  fake.driver->add_process("gctool/c1", 4242);
  CHECK(slurp(leaf / "cgroup.procs") == "4242");
  put(leaf / "cgroup.procs", "12\n5\n12\n");
  CHECK(fake.driver->pids("gctool/c1") == std::vector<pid_t>{5, 12});

  put(leaf / "memory.current", "1048576\n");
  put(leaf / "memory.peak", "2097152\n");
  put(leaf / "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  put(leaf / "pids.current", "3\n");
  put(leaf / "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n");
  const Stats s = fake.driver->stats("gctool/c1");
  CHECK(s.memory_current == 1048576u);
  CHECK(s.memory_peak == 2097152u);
  CHECK(s.cpu_usage_ns == 1500000u);
  CHECK(s.pids_current == 3u);
  CHECK(s.oom_kills == 1u);
  CHECK_FALSE(s.memory_limit);
  CHECK(s.io_read_bytes == 0u);
}

TEST_CASE("v2 stats read the memory limit, reclaimable cache and block I/O", "[cgroup][v2]") {
  FakeV2 fake;
  const auto leaf = fake.root / "gctool" / "c1";
  put(leaf / "memory.max", "max\n");
  CHECK_FALSE(fake.driver->stats("gctool/c1").memory_limit);
  put(leaf / "memory.max", "67108864\n");
  put(leaf / "memory.stat", "anon 100\nfile 4096\nactive_file 1024\ninactive_file 3072\n");
  put(leaf / "io.stat",
      "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n"
      "253:1 rbytes=100 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
  const Stats s = fake.driver->stats("gctool/c1");
  CHECK(s.memory_limit == 67108864u);
  CHECK(s.memory_inactive_file == 3072u);
  CHECK(s.io_read_bytes == 4196u);
  CHECK(s.io_write_bytes == 512u);
}

TEST_CASE("v2 stats are empty for files the host does not have", "[cgroup][v2]") {
  FakeV2 fake;
  const Stats s = fake.driver->stats("gctool/c1");
  CHECK_FALSE(s.memory_current);
  CHECK_FALSE(s.memory_peak);
  CHECK_FALSE(s.cpu_usage_ns);
  CHECK(s.oom_kills == 0u);
}

TEST_CASE("v2 open_dir gives a directory fd for CLONE_INTO_CGROUP", "[cgroup][v2]") {
  FakeV2 fake;
  CHECK(fake.driver->open_dir("gctool/c1").valid());
  CHECK_THROWS_AS(fake.driver->open_dir("gctool/none"), gctool::Error);
}

TEST_CASE("v2 handle removes its cgroup, and removing again succeeds", "[cgroup][v2]") {
  FakeV2 fake;
  Resources r;
  r.pids_limit = 9;
  auto handle = CgroupHandle::create(fake.driver, "/gctool/c1/", r);
  CHECK(handle.path() == "gctool/c1");
  CHECK(handle.version() == 2);
  CHECK(slurp(fake.root / "gctool" / "c1" / "pids.max") == "9");
  // A fake directory still holds its files: rmdir fails, and says which directory.
  CHECK_THROWS_WITH(handle.remove(std::chrono::milliseconds(0)), Catch::Contains("gctool/c1"));
  remove_files(fake.root / "gctool" / "c1");
  handle.remove();
  CHECK_FALSE(std::filesystem::exists(fake.root / "gctool" / "c1"));
  CHECK(std::filesystem::exists(fake.root / "gctool"));
  handle.remove();
  fake.driver->remove("gctool/c1", std::chrono::milliseconds(0));
}

TEST_CASE("v2 handle destructor removes the cgroup unless released", "[cgroup][v2]") {
  FakeV2 fake;
  const auto leaf = fake.root / "gctool" / "c1";
  std::string kept;
  {
    auto handle = CgroupHandle::create(fake.driver, "gctool/c1");
    kept = handle.release();
  }
  CHECK(kept == "gctool/c1");
  CHECK(std::filesystem::exists(leaf));
  {
    auto handle = CgroupHandle::open(fake.driver, kept);
    auto moved = std::move(handle);
    CHECK(handle.path().empty());
    remove_files(leaf);
  }
  CHECK_FALSE(std::filesystem::exists(leaf));
  CHECK_THROWS_AS(CgroupHandle::open(fake.driver, kept), gctool::Error);
}

TEST_CASE("v2 handle rejects invalid resources before creating anything", "[cgroup][v2]") {
  FakeV2 fake;
  Resources r;
  r.memory_bytes = 1 << 20;
  CHECK_THROWS_WITH(CgroupHandle::create(fake.driver, "gctool/c2", r),
                    "minimum memory limit allowed is 6MB");
  CHECK_FALSE(std::filesystem::exists(fake.root / "gctool" / "c2"));
}

TEST_CASE("v2 pause writes cgroup.freeze and returns once cgroup.events says frozen",
          "[cgroup][v2]") {
  FakeV2 fake;
  const auto dir = fake.root / "gctool" / "c1";
  put(dir / "cgroup.freeze", "0");
  put(dir / "cgroup.events", "populated 1\nfrozen 0\n");
  CHECK(!fake.driver->frozen("gctool/c1"));
  auto pause = std::async(std::launch::async,
                          [&] { fake.driver->freeze("gctool/c1", true, std::chrono::seconds(5)); });
  // Not done until the kernel (here: the test) reports the cgroup frozen.
  bool written = false;
  for (int i = 0; i < 5000 && !written; ++i) {
    written = slurp(dir / "cgroup.freeze") == "1";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(written);
  CHECK(pause.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  put(dir / "cgroup.events", "populated 1\nfrozen 1\n");
  pause.get();
  CHECK(fake.driver->frozen("gctool/c1"));
  put(dir / "cgroup.events", "populated 1\nfrozen 0\n");
  fake.driver->freeze("gctool/c1", false, std::chrono::seconds(5));
  CHECK(slurp(dir / "cgroup.freeze") == "0");
  CHECK(!fake.driver->frozen("gctool/c1"));
}

TEST_CASE("v2 pause without cgroup.freeze is ENOTSUP", "[cgroup][v2]") {
  FakeV2 fake;
  try {
    fake.driver->freeze("gctool/c1", true, std::chrono::seconds(5));
    FAIL("no error");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOTSUP);
  }
}

TEST_CASE("v2 device throttles go to io.max, one line per device", "[cgroup][v2]") {
  FakeV2 fake;
  const auto leaf = fake.root / "gctool" / "c1";
  put(leaf / "io.max");
  Resources r;
  r.device_read_bps = {ThrottleDevice{"/dev/sda", 8, 0, 1048576}};
  r.device_write_bps = {ThrottleDevice{"/dev/sda", 8, 0, 0}};
  r.device_read_iops = {ThrottleDevice{"/dev/sda", 8, 0, 100}};
  r.device_write_iops = {ThrottleDevice{"/dev/sda", 8, 0, 200}};
  CHECK(fake.driver->check_supported(r).empty());
  fake.driver->create("gctool/c1", r);
  CHECK_THAT(slurp(fake.root / "gctool" / "cgroup.subtree_control"), Catch::Contains("+io"));
  fake.driver->apply("gctool/c1", r);
  // Rate 0 removes the limit, as on v1.
  CHECK(slurp(leaf / "io.max") == "8:0 rbps=1048576 wbps=max riops=100 wiops=200");
}

TEST_CASE("v2 drops swappiness with Docker's warning and refuses throttles without io",
          "[cgroup][v2]") {
  FakeV2 fake;
  Resources swappiness;
  swappiness.memory_swappiness = 60;
  const auto warnings = fake.driver->check_supported(swappiness);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings.front() ==
        "WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is "
        "not mounted. Memory swappiness discarded.");
  fake.driver->apply("gctool/c1", swappiness);
  CHECK_FALSE(std::filesystem::exists(fake.root / "gctool" / "c1" / "memory.swappiness"));

  put(fake.root / "cgroup.controllers", "cpuset cpu memory pids\n");
  Resources throttle;
  throttle.device_write_iops = {ThrottleDevice{"/dev/sda", 8, 0, 5}};
  CHECK_THROWS_WITH(fake.driver->check_supported(throttle), Catch::Contains("no io controller"));
}
