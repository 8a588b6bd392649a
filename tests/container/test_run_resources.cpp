// The `run` resource flags beyond -m/--cpus: --memory-swap, --memory-reservation,
// --oom-kill-disable, --cpu-period/--cpu-quota and --blkio-weight, as the container's cgroup
// files and inspect show them.
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::check_refused;
using gctool::test::read_whole_file;
using gctool::test::TestRoot;
using gctool::test::unique_name;
using gctool::test::wait_running;

namespace fs = std::filesystem;

namespace {

// The container's cgroup file on a v1 controller's hierarchy or on the v2 tree.
std::string cgroup_file(const std::string& cgroup, const std::string& v1_controller,
                        const std::string& file) {
  const fs::path v1 = fs::path("/sys/fs/cgroup") / v1_controller;
  const fs::path dir = fs::exists(v1) ? v1 / cgroup : fs::path("/sys/fs/cgroup") / cgroup;
  return read_whole_file(dir / file);
}

bool cgroup_v1() {
  return fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes");
}

}  // namespace

TEST_CASE("run --memory-reservation, --oom-kill-disable, --cpu-period/--cpu-quota", "[root]") {
  TestRoot root;
  const auto name = unique_name("limits");
  const auto r = root.run({"run",
                           "-d",
                           "--name",
                           name,
                           "--network",
                           "none",
                           "-m",
                           "64m",
                           "--memory-reservation",
                           "32m",
                           "--memory-swap",
                           "128m",
                           "--oom-kill-disable",
                           "--cpu-period",
                           "50000",
                           "--cpu-quota",
                           "25000",
                           "busybox",
                           "sleep",
                           "100"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto info = wait_running(root, name);
  REQUIRE(!info.is_null());
  const auto cg = info["Gctool"]["CgroupPath"].get<std::string>();
  const auto& host = info["HostConfig"];
  CHECK(host["MemoryReservation"] == 32 * 1024 * 1024);
  CHECK(host["MemorySwap"] == 128 * 1024 * 1024);
  CHECK(host["OomKillDisable"] == true);
  CHECK(host["CpuPeriod"] == 50000);
  CHECK(host["CpuQuota"] == 25000);
  if (cgroup_v1()) {
    CHECK(cgroup_file(cg, "memory", "memory.soft_limit_in_bytes") == "33554432\n");
    CHECK_THAT(cgroup_file(cg, "memory", "memory.oom_control"),
               Catch::Contains("oom_kill_disable 1"));
    CHECK(cgroup_file(cg, "cpu", "cpu.cfs_period_us") == "50000\n");
    CHECK(cgroup_file(cg, "cpu", "cpu.cfs_quota_us") == "25000\n");
    if (fs::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")) {
      CHECK(cgroup_file(cg, "memory", "memory.memsw.limit_in_bytes") == "134217728\n");
    } else {
      // Docker's warning, and the container runs limited without swap.
      CHECK_THAT(r.err, Catch::Contains("does not support swap limit capabilities"));
    }
  } else {
    CHECK(cgroup_file(cg, "", "memory.low") == "33554432\n");
    CHECK(cgroup_file(cg, "", "cpu.max") == "25000 50000\n");
  }
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);

  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"--cpu-period", "10"},
                                             {"--cpu-quota", "10"},
                                             {"--cpus", "1", "--cpu-period", "100000"},
                                             {"--cpus", "1", "--cpu-quota", "50000"},
                                             {"--memory-swap", "128m"},
                                             {"-m", "64m", "--memory-swap", "32m"},
                                             {"-m", "64m", "--memory-swap", "lots"},
                                             {"--memory-reservation", "1k"},
                                             {"-m", "32m", "--memory-reservation", "64m"},
                                             {"--blkio-weight", "5"},
                                             {"--blkio-weight", "1001"}}) {
    check_refused(root, bad);
  }
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --blkio-weight sets the weight, or is refused where the host has none", "[root]") {
  TestRoot root;
  const bool has_weight =
      cgroup_v1()
          ? fs::exists("/sys/fs/cgroup/blkio/blkio.weight") ||
                fs::exists("/sys/fs/cgroup/blkio/blkio.bfq.weight")
          : read_whole_file("/sys/fs/cgroup/cgroup.controllers").find("io") != std::string::npos;
  const auto name = unique_name("blkio");
  const auto r = root.run({"run", "-d", "--name", name, "--network", "none", "--blkio-weight",
                           "300", "busybox", "sleep", "100"});
  INFO(r.err);
  if (!has_weight) {
    CHECK(r.exit_code == 125);
    CHECK(r.err ==
          "gctool: --blkio-weight: this host's blkio cgroup has no weight (no "
          "blkio.weight or blkio.bfq.weight: the disks' I/O scheduler does not support "
          "weights)\n");
    CHECK(root.run({"ps", "-a", "-q"}).out == "");
  } else {
    REQUIRE(r.exit_code == 0);
    const auto info = wait_running(root, name);
    REQUIRE(!info.is_null());
    CHECK(info["HostConfig"]["BlkioWeight"] == 300);
    const auto cg = info["Gctool"]["CgroupPath"].get<std::string>();
    if (cgroup_v1()) {
      const auto file =
          fs::exists("/sys/fs/cgroup/blkio/blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
      CHECK_THAT(cgroup_file(cg, "blkio", file), Catch::Contains("300"));
    } else {
      CHECK_THAT(cgroup_file(cg, "", "io.weight"), Catch::Contains("300"));
    }
    CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  }
  CHECK(root.leaks().empty());
}
