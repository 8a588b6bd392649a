// Detection of the host's cgroup layout from mountinfo texts.
#include <catch2/catch.hpp>

#include "gctool/cgroup/driver.hpp"
#include "gctool/cgroup/layout.hpp"
#include "gctool/core/error.hpp"

using namespace gctool::cgroup;

namespace {

const char* const kHybrid = R"(22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
)";

const char* const kV1 =
    R"(25 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup rw,cpu,cpuacct
32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/net_cls,net_prio rw shared:12 - cgroup cgroup rw,net_cls,net_prio
34 30 0:30 / /sys/fs/cgroup/my\040cpuset rw shared:13 - cgroup cgroup rw,cpuset,clone_children
)";

const char* const kUnified =
    R"(25 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw
26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
)";

}  // namespace

TEST_CASE("a v2 mount at the root is the unified layout", "[cgroup][layout]") {
  const auto layout = parse_layout(kUnified);
  CHECK(layout.mode == CgroupMode::unified);
  CHECK(layout.unified_mount == "/sys/fs/cgroup");
  CHECK(layout.controllers.empty());
  CHECK(make_driver(layout)->version() == 2);
}

TEST_CASE("v1 controllers with a v2 mount beside them are hybrid", "[cgroup][layout]") {
  const auto layout = parse_layout(kHybrid);
  CHECK(layout.mode == CgroupMode::hybrid);
  CHECK(to_string(layout.mode) == "hybrid");
  CHECK(layout.unified_mount == "/sys/fs/cgroup/unified");
  CHECK(layout.controllers.at("memory") == "/sys/fs/cgroup/memory");
  CHECK(layout.controllers.at("cpuacct") == "/sys/fs/cgroup/cpuacct");
  CHECK(layout.controllers.count("systemd") == 0);
  CHECK(layout.controllers.count("name=systemd") == 0);
  CHECK(layout.controllers.size() == 5);
  CHECK(make_driver(layout)->version() == 1);
}

TEST_CASE("v1 alone, with co-mounted controllers and escaped paths", "[cgroup][layout]") {
  const auto layout = parse_layout(kV1);
  CHECK(layout.mode == CgroupMode::v1);
  CHECK(layout.unified_mount.empty());
  CHECK(layout.controllers.at("cpu") == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(layout.controllers.at("cpuacct") == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(layout.controllers.at("net_prio") == "/sys/fs/cgroup/net_cls,net_prio");
  CHECK(layout.controllers.at("cpuset") == "/sys/fs/cgroup/my cpuset");
  CHECK(layout.controllers.count("clone_children") == 0);
}

TEST_CASE("no cgroup filesystem at all is an error", "[cgroup][layout]") {
  try {
    parse_layout("25 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n");
    FAIL("parsed a layout without cgroups");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOENT);
  }
}

TEST_CASE("this host's layout is detected consistently", "[cgroup][layout]") {
  const auto layout = detect_layout();
  if (layout.mode == CgroupMode::unified) {
    CHECK(layout.controllers.empty());
  } else {
    CHECK(layout.controllers.count("memory") == 1);
  }
}

TEST_CASE("cgroup paths stay inside the hierarchy", "[cgroup][layout]") {
  CHECK(normalize_path("/gctool//abc/") == "gctool/abc");
  CHECK_THROWS_AS(normalize_path("gctool/../../etc"), gctool::Error);
  CHECK_THROWS_AS(normalize_path("/"), gctool::Error);
  CHECK(container_cgroup_path("abc") == "gctool/abc");
  CHECK(container_cgroup_path("abc", "/system.slice/") == "system.slice/abc");
  CHECK_THROWS_AS(container_cgroup_path("a/b"), gctool::Error);
  CHECK_THROWS_AS(container_cgroup_path(".."), gctool::Error);
}
