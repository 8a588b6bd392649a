// How the host mounts cgroups: v2 only (unified), v1 controllers alone, or v1 controllers plus a
// v2 mount for systemd (hybrid). Controllers live in v1 in the last two, so they use the v1 driver.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace gctool::cgroup {

enum class CgroupMode { v1, hybrid, unified };

// "v1", "hybrid" or "unified".
std::string_view to_string(CgroupMode mode) noexcept;

struct CgroupLayout {
  CgroupMode mode = CgroupMode::unified;
  // The cgroup2 mount: the root itself when unified, e.g. /sys/fs/cgroup/unified when hybrid,
  // empty on pure v1.
  std::filesystem::path unified_mount;
  // v1 controller name -> its mount point; co-mounted controllers share one path
  // ("cpu" and "cpuacct" -> /sys/fs/cgroup/cpu,cpuacct). Named hierarchies are left out.
  std::map<std::string, std::filesystem::path> controllers;
};

// The layout described by the text of a /proc/<pid>/mountinfo file. It is unified when a cgroup2
// filesystem is mounted at cgroup_root. Throws Error(ENOENT) when no cgroup filesystem is mounted.
CgroupLayout parse_layout(std::string_view mountinfo,
                          const std::filesystem::path& cgroup_root = "/sys/fs/cgroup");

// The layout of this host: statfs(cgroup_root) tells unified at once; otherwise the v1 mounts
// come from the mountinfo file.
CgroupLayout detect_layout(const std::filesystem::path& cgroup_root = "/sys/fs/cgroup",
                           const std::filesystem::path& mountinfo = "/proc/self/mountinfo");

// detect_layout() of this host, detected once per process: mounts do not move under a command.
const CgroupLayout& host_layout();

}  // namespace gctool::cgroup
