#include "cgroup_setup.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "gctool/cgroup/driver.hpp"
#include "gctool/cgroup/layout.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/scope_exit.hpp"

namespace gctool::oci {
namespace {

// v1 controllers the library's driver leaves alone but the OCI spec uses.
constexpr const char* kExtraControllers[] = {"freezer", "blkio", "hugetlb", "net_cls", "net_prio"};

bool unified() {
  return cgroup::host_layout().mode == cgroup::CgroupMode::unified;
}

std::filesystem::path v1_dir(const std::string& controller, const std::string& path) {
  const auto& controllers = cgroup::host_layout().controllers;
  const auto it = controllers.find(controller);
  if (it == controllers.end()) {
    return {};
  }
  return it->second / cgroup::normalize_path(path);
}

std::filesystem::path v2_dir(const std::string& path) {
  return cgroup::host_layout().unified_mount / cgroup::normalize_path(path);
}

// The v1 file names of parse_resources in the unified hierarchy's terms; empty: no equivalent.
std::pair<std::string, std::string> v2_file(const std::string& file, const std::string& value,
                                            const CgroupSettings& settings) {
  if (file == "memory.limit_in_bytes") {
    return {"memory.max", value == "-1" ? "max" : value};
  }
  if (file == "memory.soft_limit_in_bytes") {
    return {"memory.low", value == "-1" ? "max" : value};
  }
  if (file == "memory.memsw.limit_in_bytes") {
    // v1 counts memory+swap, v2 swap alone.
    std::int64_t limit = -1;
    for (const auto& [ctrl, f] : settings.files) {
      if (f.first == "memory.limit_in_bytes") {
        limit = std::stoll(f.second);
      }
    }
    const auto swap = std::stoll(value);
    if (swap == -1 || limit == -1) {
      return {"memory.swap.max", "max"};
    }
    return {"memory.swap.max", std::to_string(std::max<std::int64_t>(swap - limit, 0))};
  }
  if (file == "cpu.shares") {
    return {"cpu.weight", std::to_string(cgroup::cpu_weight_from_shares(std::stoll(value)))};
  }
  if (file == "pids.max") {
    return {"pids.max", value};
  }
  if (file == "blkio.weight") {
    return {"io.bfq.weight", value};
  }
  return {};
}

void write_files(const std::string& path, const CgroupSettings& settings) {
  if (unified()) {
    std::string quota = "max";
    std::string period;
    for (const auto& [ctrl, f] : settings.files) {
      if (f.first == "cpu.cfs_quota_us") {
        quota = f.second == "-1" ? "max" : f.second;
      } else if (f.first == "cpu.cfs_period_us") {
        period = f.second;
      } else if (ctrl == "unified") {
        write_existing_file(v2_dir(path) / f.first, f.second);
      } else if (const auto [file, value] = v2_file(f.first, f.second, settings); !file.empty()) {
        write_existing_file(v2_dir(path) / file, value);
      }
    }
    if (quota != "max" || !period.empty()) {
      write_existing_file(v2_dir(path) / "cpu.max",
                          fmt::format("{} {}", quota, period.empty() ? "100000" : period));
    }
    return;
  }
  // A limit lower than memory+swap is refused until the latter is lowered: write memsw last
  // when raising, first when lowering, as the kernel checks each step.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [ctrl, f] : settings.files) {
      if (ctrl == "unified") {
        throw_invalid("linux.resources.unified needs cgroup v2; this host has v1 controllers");
      }
      const auto dir = v1_dir(ctrl, path);
      if (dir.empty()) {
        throw Error(ENOTSUP, fmt::format("set {}: the cgroup v1 \"{}\" controller is not mounted",
                                         f.first, ctrl));
      }
      const bool memsw = f.first == "memory.memsw.limit_in_bytes";
      if ((pass == 0) == memsw) {
        try {
          write_existing_file(dir / f.first, f.second);
        } catch (const Error& e) {
          if (!(memsw && e.errno_value() == EINVAL)) {
            throw;
          }
        }
      }
    }
  }
  for (const auto& [ctrl, f] : settings.files) {
    if (f.first == "memory.memsw.limit_in_bytes") {
      write_existing_file(v1_dir(ctrl, path) / f.first, f.second);
    }
  }
}

// Each hierarchy's root once: the v1 mount points (co-mounted controllers share one), or v2's.
std::vector<std::filesystem::path> hierarchy_roots() {
  const auto& layout = cgroup::host_layout();
  if (unified()) {
    return {layout.unified_mount};
  }
  std::vector<std::filesystem::path> roots;
  for (const auto& [controller, mount_point] : layout.controllers) {
    if (std::find(roots.begin(), roots.end(), mount_point) == roots.end()) {
      roots.push_back(mount_point);
    }
  }
  return roots;
}

}  // namespace

std::string new_cgroup_ancestor(const std::string& path) {
  const std::filesystem::path relative = cgroup::normalize_path(path);
  const auto roots = hierarchy_roots();
  std::filesystem::path prefix;
  for (const auto& part : relative.parent_path()) {
    prefix /= part;
    if (std::none_of(roots.begin(), roots.end(), [&prefix](const auto& root) {
          return std::filesystem::exists(root / prefix);
        })) {
      return prefix.string();
    }
  }
  return {};
}

void remove_new_cgroup_ancestors(const std::string& path, const std::string& ancestor) noexcept {
  if (ancestor.empty()) {
    return;
  }
  std::filesystem::path leaf;
  std::vector<std::filesystem::path> roots;
  try {
    leaf = cgroup::normalize_path(path);
    roots = hierarchy_roots();
  } catch (const std::exception&) {
    return;
  }
  // From the leaf's parent up to the ancestor; rmdir leaves one another container still uses.
  for (std::filesystem::path dir = leaf.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    for (const auto& root : roots) {
      ::rmdir((root / dir).c_str());
    }
    if (dir == ancestor) {
      break;
    }
  }
}

void remove_extra_cgroups(const std::string& path) noexcept {
  if (unified()) {
    return;
  }
  for (const char* ctrl : kExtraControllers) {
    if (const auto dir = v1_dir(ctrl, path); !dir.empty()) {
      ::rmdir(dir.c_str());
    }
  }
}

cgroup::CgroupHandle create_cgroup(const std::string& path, const CgroupSettings& settings) {
  auto handle = cgroup::CgroupHandle::create(cgroup::host_driver(), path, settings.resources);
  // A failed write (a limit the host refuses) leaves none of the extra directories either.
  ScopeExit remove_extra([&path] { remove_extra_cgroups(path); });
  if (!unified()) {
    for (const char* ctrl : kExtraControllers) {
      if (const auto dir = v1_dir(ctrl, path); !dir.empty()) {
        std::filesystem::create_directories(dir);
      }
    }
  }
  write_files(handle.path(), settings);
  remove_extra.release();
  return handle;
}

void update_cgroup(const std::string& path, const CgroupSettings& settings) {
  cgroup::host_driver()->apply(path, settings.resources);
  write_files(path, settings);
}

void join_cgroup(const std::string& path, pid_t pid) {
  cgroup::host_driver()->add_process(path, pid);
  if (!unified()) {
    for (const char* ctrl : kExtraControllers) {
      if (const auto dir = v1_dir(ctrl, path); !dir.empty() && std::filesystem::exists(dir)) {
        write_existing_file(dir / "cgroup.procs", std::to_string(pid));
      }
    }
  }
}

std::vector<pid_t> cgroup_pids(const std::string& path) {
  return cgroup::host_driver()->pids(path);
}

// The library's freezer, as the CLI's pause uses: on v1 it also moves into the freezer cgroup
// any process that is not there yet.
void freeze_cgroup(const std::string& path, bool frozen) {
  cgroup::host_driver()->freeze(path, frozen, std::chrono::seconds(1));
}

bool cgroup_frozen(const std::string& path) {
  try {
    return cgroup::host_driver()->frozen(path);
  } catch (const Error&) {
    return false;
  }
}

void remove_cgroup(const std::string& path) {
  const auto driver = cgroup::host_driver();
  if (cgroup_frozen(path)) {
    freeze_cgroup(path, false);
  }
  if (driver->exists(path)) {
    auto handle = cgroup::CgroupHandle::open(driver, path);
    handle.kill_and_remove();
  }
  remove_extra_cgroups(path);
}

}  // namespace gctool::oci
