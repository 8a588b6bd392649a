// The v1 driver against fake per-controller hierarchies: the files and values it writes.
#include <catch2/catch.hpp>

#include <memory>

#include "fake_tree.hpp"
#include "gctool/cgroup/handle.hpp"
#include "gctool/cgroup/v1_driver.hpp"
#include "gctool/core/error.hpp"
#include "test_support.hpp"

using namespace gctool::cgroup;
using gctool::cgroup::test::put;
using gctool::cgroup::test::put_dir;
using gctool::cgroup::test::remove_files;
using gctool::cgroup::test::slurp;

namespace {

// memory, cpu+cpuacct co-mounted, cpuset, pids, and a freezer the driver must leave alone; each
// with root/gctool/c1 made the way the kernel makes them (files present, cpuset values empty).
struct FakeV1 {
  gctool::test::TempDir tmp{"cg-v1"};
  std::filesystem::path root = tmp.path();
  std::map<std::string, std::filesystem::path> mounts = {
      {"memory", root / "memory"}, {"cpu", root / "cpu,cpuacct"}, {"cpuacct", root / "cpu,cpuacct"},
      {"cpuset", root / "cpuset"}, {"pids", root / "pids"},       {"freezer", root / "freezer"}};

  FakeV1() {
    for (const auto& level : {"", "gctool", "gctool/c1"}) {
      put_dir(root / "memory" / level,
              {"cgroup.procs", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"});
      put_dir(root / "cpu,cpuacct" / level,
              {"cgroup.procs", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares"});
      put_dir(root / "cpuset" / level, {"cgroup.procs", "cpuset.cpus", "cpuset.mems"});
      put_dir(root / "pids" / level, {"cgroup.procs", "pids.max"});
    }
    put_dir(root / "freezer", {"cgroup.procs"});
    put(root / "cpuset" / "cpuset.cpus", "0-1\n");
    put(root / "cpuset" / "cpuset.mems", "0\n");
  }
  std::shared_ptr<const V1Driver> driver() const { return std::make_shared<V1Driver>(mounts); }
};

}  // namespace

TEST_CASE("v1 driver uses one directory per hierarchy it needs", "[cgroup][v1]") {
  FakeV1 fake;
  const auto hierarchies = fake.driver()->hierarchies();
  CHECK(hierarchies.size() == 4);
  CHECK(std::find(hierarchies.begin(), hierarchies.end(), fake.root / "freezer") ==
        hierarchies.end());
}

TEST_CASE("v1 create copies cpuset.cpus and cpuset.mems into every level", "[cgroup][v1]") {
  FakeV1 fake;
  fake.driver()->create("gctool/c1", Resources{});
  CHECK(slurp(fake.root / "cpuset" / "gctool" / "cpuset.cpus") == "0-1");
  CHECK(slurp(fake.root / "cpuset" / "gctool" / "cpuset.mems") == "0");
  CHECK(slurp(fake.root / "cpuset" / "gctool" / "c1" / "cpuset.cpus") == "0-1");
  CHECK(slurp(fake.root / "cpuset" / "gctool" / "c1" / "cpuset.mems") == "0");
  CHECK_FALSE(std::filesystem::exists(fake.root / "freezer" / "gctool"));
}

TEST_CASE("v1 create makes missing levels in every hierarchy", "[cgroup][v1]") {
  FakeV1 fake;
  // Only the cpuset hierarchy needs its files up front (the kernel would make them).
  put_dir(fake.root / "cpuset" / "gctool" / "c2", {"cpuset.cpus", "cpuset.mems"});
  fake.driver()->create("gctool/c2", Resources{});
  for (const auto& mount : fake.driver()->hierarchies()) {
    CHECK(std::filesystem::is_directory(mount / "gctool" / "c2"));
  }
  CHECK(fake.driver()->exists("gctool/c2"));
  CHECK_FALSE(fake.driver()->exists("gctool/c3"));
}

TEST_CASE("v1 apply writes every resource in the v1 format", "[cgroup][v1]") {
  FakeV1 fake;
  Resources r;
  r.memory_bytes = 32 << 20;
  r.nano_cpus = 200000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "1";
  r.cpuset_mems = "0";
  r.pids_limit = 5;
  const auto driver = fake.driver();
  driver->create("gctool/c1", r);
  // A fake file is not truncated by a write as a cgroupfs knob is: clear what create copied.
  put(fake.root / "cpuset" / "gctool" / "c1" / "cpuset.cpus");
  driver->apply("gctool/c1", r);
  const auto memory = fake.root / "memory" / "gctool" / "c1";
  const auto cpu = fake.root / "cpu,cpuacct" / "gctool" / "c1";
  CHECK(slurp(memory / "memory.limit_in_bytes") == "33554432");
  CHECK(slurp(memory / "memory.memsw.limit_in_bytes") == "33554432");
  CHECK(slurp(cpu / "cpu.cfs_period_us") == "100000");
  CHECK(slurp(cpu / "cpu.cfs_quota_us") == "20000");
  CHECK(slurp(cpu / "cpu.shares") == "512");
  CHECK(slurp(fake.root / "cpuset" / "gctool" / "c1" / "cpuset.cpus") == "1");
  CHECK(slurp(fake.root / "cpuset" / "gctool" / "c1" / "cpuset.mems") == "0");
  CHECK(slurp(fake.root / "pids" / "gctool" / "c1" / "pids.max") == "5");
}

TEST_CASE("v1 apply sets only the memory limit without swap accounting", "[cgroup][v1]") {
  FakeV1 fake;
  const auto memory = fake.root / "memory" / "gctool" / "c1";
  std::filesystem::remove(memory / "memory.memsw.limit_in_bytes");
  Resources r;
  r.memory_bytes = 8 << 20;
  fake.driver()->apply("gctool/c1", r);
  CHECK(slurp(memory / "memory.limit_in_bytes") == "8388608");
  CHECK_FALSE(std::filesystem::exists(memory / "memory.memsw.limit_in_bytes"));
}

TEST_CASE("v1 create fails before creating anything when a controller is not mounted",
          "[cgroup][v1]") {
  FakeV1 fake;
  fake.mounts.erase("pids");
  Resources r;
  r.pids_limit = 3;
  try {
    fake.driver()->create("gctool/new", r);
    FAIL("create succeeded without the pids controller");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOTSUP);
    CHECK_THAT(e.what(), Catch::Contains("pids"));
  }
  CHECK_FALSE(std::filesystem::exists(fake.root / "memory" / "gctool" / "new"));
}

TEST_CASE("v1 device rules need the devices controller and go to its files", "[cgroup][v1]") {
  FakeV1 fake;
  const Resources r{
      .devices = {DeviceRule{.allow = false}, DeviceRule{.type = 'c', .major = 1, .minor = 3}}};
  try {
    fake.driver()->create("gctool/dev", r);
    FAIL("create succeeded without the devices controller");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOTSUP);
    CHECK_THAT(e.what(), Catch::Contains("devices"));
  }
  CHECK_FALSE(std::filesystem::exists(fake.root / "memory" / "gctool" / "dev"));

  fake.mounts.emplace("devices", fake.root / "devices");
  put_dir(fake.root / "devices" / "gctool" / "c1",
          {"cgroup.procs", "devices.allow", "devices.deny"});
  const auto driver = fake.driver();
  CHECK(driver->hierarchies().size() == 5);
  driver->apply("gctool/c1", r);
  // The kernel takes one rule per write; a plain file keeps the last.
  CHECK(slurp(fake.root / "devices" / "gctool" / "c1" / "devices.deny") == "a");
  CHECK(slurp(fake.root / "devices" / "gctool" / "c1" / "devices.allow") == "c 1:3 rwm");
}

TEST_CASE("v1 add_process joins every hierarchy; pids lists them all", "[cgroup][v1]") {
  FakeV1 fake;
  const auto driver = fake.driver();
  driver->add_process("gctool/c1", 777);
  for (const auto& mount : driver->hierarchies()) {
    CHECK(slurp(mount / "gctool" / "c1" / "cgroup.procs") == "777");
  }
  put(fake.root / "pids" / "gctool" / "c1" / "cgroup.procs", "778\n777\n");
  CHECK(driver->pids("gctool/c1") == std::vector<pid_t>{777, 778});
  CHECK(driver->pids("gctool/none").empty());
  CHECK_FALSE(driver->open_dir("gctool/c1").valid());
}

TEST_CASE("v1 stats and OOM kills are read from the controllers' files", "[cgroup][v1]") {
  FakeV1 fake;
  const auto memory = fake.root / "memory" / "gctool" / "c1";
  put(memory / "memory.usage_in_bytes", "4096\n");
  put(memory / "memory.max_usage_in_bytes", "8192\n");
  put(memory / "memory.failcnt", "17\n");
  put(memory / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  put(fake.root / "cpu,cpuacct" / "gctool" / "c1" / "cpuacct.usage", "123456789\n");
  put(fake.root / "pids" / "gctool" / "c1" / "pids.current", "4\n");
  Stats s = fake.driver()->stats("gctool/c1");
  CHECK(s.memory_current == 4096u);
  CHECK(s.memory_peak == 8192u);
  CHECK(s.cpu_usage_ns == 123456789u);
  CHECK(s.pids_current == 4u);
  CHECK(s.oom_kills == 2u);
  // No limit file, or the kernel's "unlimited": no limit.
  CHECK_FALSE(s.memory_limit);
  put(memory / "memory.limit_in_bytes", "9223372036854771712\n");
  CHECK_FALSE(fake.driver()->stats("gctool/c1").memory_limit);
  put(memory / "memory.limit_in_bytes", "67108864\n");
  put(memory / "memory.stat", "cache 8192\ntotal_cache 8192\ntotal_inactive_file 2048\n");
  fake.mounts["blkio"] = fake.root / "blkio";
  put(fake.root / "blkio" / "gctool" / "c1" / "blkio.throttle.io_service_bytes_recursive",
      "8:0 Read 4096\n8:0 Write 1024\n8:0 Sync 5120\n8:0 Async 0\n8:0 Total 5120\n"
      "8:16 Read 10\n8:16 Write 0\nTotal 5130\n");
  s = fake.driver()->stats("gctool/c1");
  CHECK(s.memory_limit == 67108864u);
  CHECK(s.memory_inactive_file == 2048u);
  CHECK(s.io_read_bytes == 4106u);
  CHECK(s.io_write_bytes == 1024u);

  // Kernels before 4.13 have no oom_kill field: hitting the limit is the hint.
  put(memory / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  s = fake.driver()->stats("gctool/c1");
  CHECK(s.oom_kills == 17u);
}

TEST_CASE("v1 remove deletes the directory in every hierarchy and is idempotent", "[cgroup][v1]") {
  FakeV1 fake;
  const auto driver = fake.driver();
  auto handle = CgroupHandle::create(driver, "gctool/c1");
  CHECK(handle.version() == 1);
  for (const auto& mount : driver->hierarchies()) {
    remove_files(mount / "gctool" / "c1");
  }
  handle.remove();
  for (const auto& mount : driver->hierarchies()) {
    CHECK_FALSE(std::filesystem::exists(mount / "gctool" / "c1"));
    CHECK(std::filesystem::exists(mount / "gctool"));
  }
  handle.remove();
  CHECK_FALSE(driver->exists("gctool/c1"));
}

TEST_CASE("v1 pause moves the processes into a freezer cgroup made then, and freezes it",
          "[cgroup][v1]") {
  FakeV1 fake;
  const auto driver = fake.driver();
  driver->create("gctool/c1", Resources{});
  // Created on the first pause only: a container that is never paused has no freezer cgroup.
  CHECK(!std::filesystem::exists(fake.root / "freezer" / "gctool" / "c1"));
  CHECK(!driver->frozen("gctool/c1"));
  put(fake.root / "memory" / "gctool" / "c1" / "cgroup.procs", "4242\n");
  // What the kernel would show in a new freezer cgroup.
  put_dir(fake.root / "freezer" / "gctool" / "c1", {"cgroup.procs"});
  put(fake.root / "freezer" / "gctool" / "c1" / "freezer.state", "THAWED");
  driver->freeze("gctool/c1", true, std::chrono::seconds(5));
  CHECK(slurp(fake.root / "freezer" / "gctool" / "c1" / "cgroup.procs") == "4242");
  CHECK(slurp(fake.root / "freezer" / "gctool" / "c1" / "freezer.state") == "FROZEN");
  CHECK(driver->frozen("gctool/c1"));
  driver->freeze("gctool/c1", false, std::chrono::seconds(5));
  CHECK(slurp(fake.root / "freezer" / "gctool" / "c1" / "freezer.state") == "THAWED");
  CHECK(!driver->frozen("gctool/c1"));
}

TEST_CASE("v1 pause without a freezer mounted is ENOTSUP", "[cgroup][v1]") {
  FakeV1 fake;
  fake.mounts.erase("freezer");
  try {
    fake.driver()->freeze("gctool/c1", true, std::chrono::seconds(5));
    FAIL("no error");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOTSUP);
  }
}

TEST_CASE("v1 apply writes swappiness and the blkio throttle files", "[cgroup][v1]") {
  FakeV1 fake;
  fake.mounts["blkio"] = fake.root / "blkio";
  for (const auto& level : {"", "gctool", "gctool/c1"}) {
    put_dir(fake.root / "blkio" / level,
            {"cgroup.procs", "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
             "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"});
  }
  put(fake.root / "memory" / "gctool" / "c1" / "memory.swappiness");
  put(fake.root / "memory" / "memory.swappiness");
  Resources r;
  r.memory_swappiness = 0;
  r.device_read_bps = {ThrottleDevice{"/dev/sda", 8, 0, 1048576}};
  r.device_write_bps = {ThrottleDevice{"/dev/sda", 8, 0, 2097152}};
  r.device_read_iops = {ThrottleDevice{"/dev/vdb", 254, 16, 100}};
  r.device_write_iops = {ThrottleDevice{"/dev/vdb", 254, 16, 200}};
  const auto driver = fake.driver();
  CHECK(driver->check_supported(r).empty());
  driver->create("gctool/c1", r);
  driver->apply("gctool/c1", r);
  const auto blkio = fake.root / "blkio" / "gctool" / "c1";
  CHECK(slurp(blkio / "blkio.throttle.read_bps_device") == "8:0 1048576");
  CHECK(slurp(blkio / "blkio.throttle.write_bps_device") == "8:0 2097152");
  CHECK(slurp(blkio / "blkio.throttle.read_iops_device") == "254:16 100");
  CHECK(slurp(blkio / "blkio.throttle.write_iops_device") == "254:16 200");
  CHECK(slurp(fake.root / "memory" / "gctool" / "c1" / "memory.swappiness") == "0");
}

TEST_CASE("v1 refuses device throttles without blkio.throttle files, warns for swappiness",
          "[cgroup][v1]") {
  FakeV1 fake;
  fake.mounts["blkio"] = fake.root / "blkio";
  put_dir(fake.root / "blkio", {"cgroup.procs"});
  Resources r;
  r.device_read_bps = {ThrottleDevice{"/dev/sda", 8, 0, 1}};
  CHECK_THROWS_WITH(fake.driver()->check_supported(r), Catch::Contains("no throttling"));
  // No memory.swappiness in the fake memory hierarchy: Docker's warning, and nothing written.
  Resources swappiness;
  swappiness.memory_swappiness = 10;
  const auto warnings = fake.driver()->check_supported(swappiness);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings.front(), Catch::Contains("Memory swappiness discarded"));
  fake.driver()->apply("gctool/c1", swappiness);
  CHECK_FALSE(
      std::filesystem::exists(fake.root / "memory" / "gctool" / "c1" / "memory.swappiness"));
}
