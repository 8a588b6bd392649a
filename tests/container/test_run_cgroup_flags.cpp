// The `run` and `create` cgroup flags of issue 18's last batch: --memory-swappiness,
// --cpuset-mems, --device-{read,write}-{bps,iops}, --oom-score-adj, --cgroupns and
// --cgroup-parent, as the container's cgroup files, its own view and inspect show them.
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "container_support.hpp"
#include "gctool/cgroup/layout.hpp"
#include "gctool/cgroup/v1_driver.hpp"

using gctool::test::check_refused;
using gctool::test::read_whole_file;
using gctool::test::TestRoot;
using gctool::test::unique_name;
using gctool::test::wait_running;

namespace fs = std::filesystem;

namespace {

bool cgroup_v1() {
  return gctool::cgroup::host_layout().mode != gctool::cgroup::CgroupMode::unified;
}

// The container's cgroup directory on a v1 controller's hierarchy or on the v2 tree.
fs::path cgroup_dir(const std::string& cgroup, const std::string& v1_controller) {
  return cgroup_v1() ? fs::path("/sys/fs/cgroup") / v1_controller / cgroup
                     : fs::path("/sys/fs/cgroup") / cgroup;
}

// The hierarchies' mount points (one on v2): all of them, or with `used` those a container's
// cgroup is in (gctool's v1 driver leaves freezer, net_cls and the like alone).
std::vector<fs::path> hierarchies(bool used = false) {
  const auto& layout = gctool::cgroup::host_layout();
  if (!cgroup_v1()) {
    return {layout.unified_mount};
  }
  if (used) {
    return gctool::cgroup::V1Driver(layout.controllers).hierarchies();
  }
  std::vector<fs::path> out;
  for (const auto& [name, mount] : layout.controllers) {
    if (std::find(out.begin(), out.end(), mount) == out.end()) {
      out.push_back(mount);
    }
  }
  return out;
}

// A block device of this machine and its "major:minor".
std::pair<std::string, std::string> some_block_device() {
  for (const auto& entry : fs::directory_iterator("/dev")) {
    struct stat st {};
    if (entry.is_block_file() && ::stat(entry.path().c_str(), &st) == 0) {
      return {entry.path().string(), fmt::format("{}:{}", major(st.st_rdev), minor(st.st_rdev))};
    }
  }
  return {};
}

// Parent cgroups a test makes or lets gctool make: removed (deepest first, every hierarchy) when
// the test ends, however it ends, so the host keeps none.
struct ParentCgroups {
  std::vector<std::string> paths;  // relative, parents before children
  ~ParentCgroups() {
    for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
      for (const auto& mount : hierarchies()) {
        ::rmdir((mount / *it).c_str());
      }
    }
  }
};

}  // namespace

TEST_CASE("run --memory-swappiness, --cpuset-mems and device throttles reach the cgroup files",
          "[root]") {
  TestRoot root;
  const auto [device, number] = some_block_device();
  REQUIRE(!device.empty());
  const auto name = unique_name("iolimits");
  const auto r = root.run({"run",
                           "-d",
                           "--name",
                           name,
                           "--network",
                           "none",
                           "--memory-swappiness",
                           "10",
                           "--cpuset-mems",
                           "0",
                           "--device-read-bps",
                           device + ":1mb",
                           "--device-write-bps",
                           device + ":2mb",
                           "--device-read-iops",
                           device + ":100",
                           "--device-write-iops",
                           device + ":200",
                           "busybox",
                           "sleep",
                           "100"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto info = wait_running(root, name);
  REQUIRE(!info.is_null());
  const auto cg = info["Gctool"]["CgroupPath"].get<std::string>();
  const auto& host = info["HostConfig"];
  CHECK(host["CpusetMems"] == "0");
  CHECK(host["BlkioDeviceReadBps"] ==
        nlohmann::json::parse(fmt::format(R"([{{"Path":"{}","Rate":1048576}}])", device)));
  CHECK(host["BlkioDeviceWriteBps"] ==
        nlohmann::json::parse(fmt::format(R"([{{"Path":"{}","Rate":2097152}}])", device)));
  CHECK(host["BlkioDeviceReadIOps"] ==
        nlohmann::json::parse(fmt::format(R"([{{"Path":"{}","Rate":100}}])", device)));
  CHECK(host["BlkioDeviceWriteIOps"] ==
        nlohmann::json::parse(fmt::format(R"([{{"Path":"{}","Rate":200}}])", device)));
  CHECK(host["MemorySwappiness"] == 10);
  CHECK(read_whole_file(cgroup_dir(cg, "cpuset") / "cpuset.mems") == "0\n");
  if (cgroup_v1()) {
    const auto blkio = cgroup_dir(cg, "blkio");
    CHECK(read_whole_file(blkio / "blkio.throttle.read_bps_device") == number + " 1048576\n");
    CHECK(read_whole_file(blkio / "blkio.throttle.write_bps_device") == number + " 2097152\n");
    CHECK(read_whole_file(blkio / "blkio.throttle.read_iops_device") == number + " 100\n");
    CHECK(read_whole_file(blkio / "blkio.throttle.write_iops_device") == number + " 200\n");
    CHECK(read_whole_file(cgroup_dir(cg, "memory") / "memory.swappiness") == "10\n");
  } else {
    CHECK_THAT(read_whole_file(cgroup_dir(cg, "") / "io.max"),
               Catch::Contains(number + " rbps=1048576 wbps=2097152 riops=100 wiops=200"));
    CHECK_THAT(r.err, Catch::Contains("Memory swappiness discarded"));
  }

  // update: the flags Docker's update has (not swappiness or the device throttles).
  const auto update = root.run({"update", "--cpuset-mems", "0", "--cpu-period", "50000",
                                "--cpu-quota", "20000", "--memory-reservation", "16m", name});
  INFO(update.err);
  CHECK(update.exit_code == 0);
  CHECK(root.inspect(name)["HostConfig"]["CpuQuota"] == 20000);
  CHECK(root.inspect(name)["HostConfig"]["MemoryReservation"] == 16 * 1024 * 1024);
  if (cgroup_v1()) {
    CHECK(read_whole_file(cgroup_dir(cg, "cpu") / "cpu.cfs_quota_us") == "20000\n");
    CHECK(read_whole_file(cgroup_dir(cg, "cpu") / "cpu.cfs_period_us") == "50000\n");
    CHECK(read_whole_file(cgroup_dir(cg, "memory") / "memory.soft_limit_in_bytes") == "16777216\n");
  } else {
    CHECK(read_whole_file(cgroup_dir(cg, "") / "cpu.max") == "20000 50000\n");
  }
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"--cpuset-mems", "7"}, {"--cpu-period", "10"}, {"--blkio-weight", "5"}}) {
    std::vector<std::string> args = {"update"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(name);
    const auto bad = root.run(args);
    INFO(bad.err);
    CHECK(bad.exit_code == 125);
    CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
  }
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK_FALSE(fs::exists(cgroup_dir(cg, "blkio")));

  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"--memory-swappiness", "101"},
                                             {"--memory-swappiness", "-2"},
                                             {"--memory-swappiness", "x"},
                                             {"--cpuset-mems", "7"},
                                             {"--cpuset-mems", "a"},
                                             {"--device-read-bps", device},
                                             {"--device-read-bps", "sda:1mb"},
                                             {"--device-write-bps", device + ":lots"},
                                             {"--device-read-iops", device + ":1mb"},
                                             {"--device-write-iops", "/dev/nosuch-gctool:5"},
                                             {"--device-read-bps", "/dev/null:1mb"}}) {
    check_refused(root, bad);
  }
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --oom-score-adj is the container's from its first process on", "[root]") {
  TestRoot root;
  const auto r = root.run({"run", "--rm", "--network", "none", "--oom-score-adj", "500", "busybox",
                           "sh", "-c", "cat /proc/1/oom_score_adj /proc/self/oom_score_adj"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "500\n500\n");
  // Lowering it takes CAP_SYS_RESOURCE, which a sandboxed host may not have (as with runc,
  // the container then fails to start, saying why).
  const auto status = read_whole_file("/proc/self/status");
  const auto caps = std::stoull(status.substr(status.find("CapEff:") + 7), nullptr, 16);
  const auto lower = root.run({"run", "--rm", "--network", "none", "--oom-score-adj", "-500",
                               "busybox", "cat", "/proc/self/oom_score_adj"});
  INFO(lower.err);
  if ((caps & (1ULL << CAP_SYS_RESOURCE)) != 0) {
    CHECK(lower.exit_code == 0);
    CHECK(lower.out == "-500\n");
  } else {
    CHECK(lower.exit_code != 0);
    CHECK(lower.err == "gctool: container init: write oom_score_adj: Permission denied\n");
  }
  const auto created =
      root.run({"create", "--network", "none", "--oom-score-adj", "300", "busybox", "true"});
  REQUIRE(created.exit_code == 0);
  const auto id = created.out.substr(0, 64);
  CHECK(root.inspect(id)["HostConfig"]["OomScoreAdj"] == 300);
  CHECK(root.run({"rm", id}).exit_code == 0);
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--oom-score-adj", "1001"}, {"--oom-score-adj", "-1001"}, {"--oom-score-adj", "x"}}) {
    check_refused(root, bad);
  }
  const auto range = root.run({"run", "--rm", "--oom-score-adj", "2000", "busybox", "true"});
  CHECK(range.err == "gctool: Invalid value 2000, range for oom score adj is [-1000, 1000]\n");
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --cgroupns host shows the host's cgroup paths, private is the default", "[root]") {
  TestRoot root;
  const std::string show =
      cgroup_v1() ? "cat /proc/self/cgroup /sys/fs/cgroup/memory/memory.limit_in_bytes"
                  : "cat /proc/self/cgroup; test -f /sys/fs/cgroup/cgroup.controllers && echo tree";
  const auto host = root.run({"run", "--rm", "--network", "none", "--cgroupns", "host", "-m", "64m",
                              "busybox", "sh", "-c", show});
  INFO(host.err);
  REQUIRE(host.exit_code == 0);
  if (cgroup_v1()) {
    // The host's path of the container's cgroup; /sys/fs/cgroup still shows that cgroup alone
    // (runc binds it there), read-only.
    CHECK_THAT(host.out, Catch::Contains(":memory:/gctool/"));
    CHECK_THAT(host.out, Catch::EndsWith("\n67108864\n"));
  } else {
    CHECK_THAT(host.out, Catch::Contains("0::/gctool/"));
  }
  const auto ro = root.run({"run", "--rm", "--network", "none", "--cgroupns", "host", "busybox",
                            "sh", "-c", "mkdir /sys/fs/cgroup/pids/x || mkdir /sys/fs/cgroup/x"});
  CHECK(ro.exit_code != 0);
  const auto priv = root.run({"run", "--rm", "--network", "none", "--cgroupns", "private",
                              "busybox", "cat", "/proc/self/cgroup"});
  REQUIRE(priv.exit_code == 0);
  CHECK_THAT(priv.out, !Catch::Contains("gctool"));

  for (const std::string mode : {"", "host", "private"}) {
    std::vector<std::string> args = {"create", "--network", "none"};
    if (!mode.empty()) {
      args.insert(args.end(), {"--cgroupns", mode});
    }
    args.insert(args.end(), {"busybox", "true"});
    const auto created = root.run(args);
    REQUIRE(created.exit_code == 0);
    const auto id = created.out.substr(0, 64);
    CHECK(root.inspect(id)["HostConfig"]["CgroupnsMode"] == (mode.empty() ? "private" : mode));
    CHECK(root.run({"rm", id}).exit_code == 0);
  }
  check_refused(root, {"--cgroupns", "none"});
  const auto bad = root.run({"run", "--rm", "--cgroupns", "container:x", "busybox", "true"});
  CHECK(bad.err ==
        "gctool: invalid argument \"container:x\" for \"--cgroupns\" flag: --cgroupns: invalid "
        "CGROUP mode \"container:x\"\n");
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --cgroup-parent puts the cgroup under the parent in every hierarchy", "[root]") {
  TestRoot root;
  ParentCgroups parents;
  // A parent the user made (relative), and one gctool makes, two levels deep (absolute).
  const auto own = unique_name("gctool-test-own");
  const auto made = unique_name("gctool-test-made");
  parents.paths = {own, made, made + "/sub"};
  for (const auto& mount : hierarchies()) {
    REQUIRE(::mkdir((mount / own).c_str(), 0755) == 0);
  }
  for (const auto& [parent, where] : std::vector<std::pair<std::string, std::string>>{
           {own, own}, {"/" + made + "/sub/", made + "/sub"}}) {
    const auto name = unique_name("cgparent");
    const auto r = root.run({"run", "-d", "--name", name, "--network", "none", "--cgroup-parent",
                             parent, "-m", "32m", "busybox", "sleep", "100"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto info = wait_running(root, name);
    REQUIRE(!info.is_null());
    const auto id = info["Id"].get<std::string>();
    CHECK(info["HostConfig"]["CgroupParent"] == parent);
    CHECK(info["Gctool"]["CgroupPath"] == where + "/" + id);
    const auto pid = std::to_string(info["State"]["Pid"].get<int>());
    for (const auto& mount : hierarchies(true)) {
      CHECK_THAT(read_whole_file(mount / where / id / "cgroup.procs"), Catch::Contains(pid));
    }
    CHECK(read_whole_file(cgroup_dir(where + "/" + id, "memory") /
                          (cgroup_v1() ? "memory.limit_in_bytes" : "memory.max")) == "33554432\n");
    // exec joins the same cgroup.
    const auto in = root.run({"exec", name, "cat", "/proc/self/cgroup"});
    CHECK(in.exit_code == 0);
    CHECK(root.run({"rm", "-f", name}).exit_code == 0);
    for (const auto& mount : hierarchies(true)) {
      CHECK_FALSE(fs::exists(mount / where / id));
      // As runc: the parent stays, whoever made it.
      CHECK(fs::is_directory(mount / where));
    }
  }
  check_refused(root, {"--cgroup-parent", "../escape"});
  check_refused(root, {"--cgroup-parent", "a/../../b"});
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}
