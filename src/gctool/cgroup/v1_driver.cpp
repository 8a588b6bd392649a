#include "gctool/cgroup/v1_driver.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <string>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <fmt/std.h>

#include "cgroupfs.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool::cgroup {

namespace {

// What a container needs; cpuacct holds the CPU usage and blkio the block I/O that stats()
// reports, devices the rules that keep the host's device nodes out of reach.
constexpr std::array<std::string_view, 7> kUsed = {"memory", "cpu",     "cpuacct", "cpuset",
                                                   "pids",   "devices", "blkio"};

// A new cpuset level starts with empty cpus and mems, and the kernel refuses tasks (ENOSPC)
// until both are set: copy them from the parent.
void inherit_cpuset(const std::filesystem::path& parent, const std::filesystem::path& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    if (trim(read_file(dir / file)).empty()) {
      write_existing_file(dir / file, trim(read_file(parent / file)));
    }
  }
}

// The blkio.throttle files and the limits each takes.
std::array<std::pair<const char*, const std::vector<ThrottleDevice>*>, 4> throttle_files(
    const Resources& r) {
  return {{{"blkio.throttle.read_bps_device", &r.device_read_bps},
           {"blkio.throttle.write_bps_device", &r.device_write_bps},
           {"blkio.throttle.read_iops_device", &r.device_read_iops},
           {"blkio.throttle.write_iops_device", &r.device_write_iops}}};
}

}  // namespace

V1Driver::V1Driver(std::map<std::string, std::filesystem::path> mounts) {
  for (const auto name : kUsed) {
    if (const auto it = mounts.find(std::string(name)); it != mounts.end()) {
      mounts_.emplace(it->first, it->second);
    }
  }
  if (const auto it = mounts.find("freezer"); it != mounts.end()) {
    freezer_ = it->second;
  }
}

std::vector<std::filesystem::path> V1Driver::hierarchies() const {
  std::vector<std::filesystem::path> out;
  for (const auto& [name, mount] : mounts_) {
    if (std::find(out.begin(), out.end(), mount) == out.end()) {
      out.push_back(mount);
    }
  }
  return out;
}

std::filesystem::path V1Driver::dir(const std::string& controller, std::string_view path) const {
  const auto it = mounts_.find(controller);
  if (it == mounts_.end()) {
    throw Error(ENOTSUP,
                fmt::format("find the cgroup v1 \"{}\" controller: not mounted", controller));
  }
  return it->second / normalize_path(path);
}

void V1Driver::create(std::string_view path, const Resources& r) const {
  const auto relative = normalize_path(path);
  // Fail before creating anything when a requested limit has no controller.
  if (r.memory_bytes || r.memory_reservation || r.oom_kill_disable || r.memory_swappiness) {
    dir("memory", relative);
  }
  if (r.nano_cpus || r.cpu_shares || r.cpu_period || r.cpu_quota) {
    dir("cpu", relative);
  }
  if (r.blkio_weight || has_io_throttle(r)) {
    dir("blkio", relative);
  }
  if (r.cpuset_cpus || r.cpuset_mems) {
    dir("cpuset", relative);
  }
  if (r.pids_limit) {
    dir("pids", relative);
  }
  if (!r.devices.empty()) {
    dir("devices", relative);
  }
  for (const auto& mount : hierarchies()) {
    const auto levels = detail::make_levels(mount, relative);
    if (has("cpuset") && mount == mounts_.at("cpuset")) {
      auto parent = mount;
      for (const auto& level : levels) {
        inherit_cpuset(parent, level);
        parent = level;
      }
    }
  }
}

std::vector<std::string> V1Driver::check_supported(const Resources& r) const {
  std::vector<std::string> warnings;
  if (r.memory_swap && has("memory") &&
      !std::filesystem::exists(mounts_.at("memory") / "memory.memsw.limit_in_bytes")) {
    warnings.emplace_back(kNoSwapWarning);
  }
  if (r.blkio_weight) {
    const auto blkio = has("blkio") ? mounts_.at("blkio") : std::filesystem::path();
    if (blkio.empty() || (!std::filesystem::exists(blkio / "blkio.weight") &&
                          !std::filesystem::exists(blkio / "blkio.bfq.weight"))) {
      throw Error::invalid(
          "--blkio-weight: this host's blkio cgroup has no weight (no blkio.weight or "
          "blkio.bfq.weight: the disks' I/O scheduler does not support weights)");
    }
  }
  if (has_io_throttle(r) &&
      (!has("blkio") ||
       !std::filesystem::exists(mounts_.at("blkio") / "blkio.throttle.read_bps_device"))) {
    throw Error::invalid(
        "--device-read-bps and the like: this host's blkio cgroup has no throttling "
        "(blkio.throttle.*)");
  }
  if (r.memory_swappiness && has("memory") &&
      !std::filesystem::exists(mounts_.at("memory") / "memory.swappiness")) {
    warnings.emplace_back(
        "WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is "
        "not mounted. Memory swappiness discarded.");
  }
  return warnings;
}

void V1Driver::apply(std::string_view path, const Resources& r) const {
  if (r.memory_bytes) {
    const auto d = dir("memory", path);
    const auto value = fmt::format("{}", *r.memory_bytes);
    // Memory plus swap: --memory-swap, else no swap on top of the limit.
    const auto with_swap = r.memory_swap ? fmt::format("{}", *r.memory_swap) : value;
    const auto memsw = d / "memory.memsw.limit_in_bytes";
    if (!std::filesystem::exists(memsw)) {
      write_existing_file(d / "memory.limit_in_bytes", value);
    } else {
      // The kernel keeps memory <= memory+swap at every step: when raising, memsw must go
      // first, when lowering, the limit must.
      try {
        write_existing_file(d / "memory.limit_in_bytes", value);
        write_existing_file(memsw, with_swap);
      } catch (const Error& e) {
        if (e.errno_value() != EINVAL) {
          throw;
        }
        write_existing_file(memsw, with_swap);
        write_existing_file(d / "memory.limit_in_bytes", value);
      }
    }
  }
  if (r.memory_reservation) {
    write_existing_file(dir("memory", path) / "memory.soft_limit_in_bytes",
                        fmt::format("{}", *r.memory_reservation));
  }
  if (r.oom_kill_disable) {
    write_existing_file(dir("memory", path) / "memory.oom_control", "1");
  }
  if (r.memory_swappiness) {
    const auto file = dir("memory", path) / "memory.swappiness";
    if (std::filesystem::exists(file)) {
      write_existing_file(file, fmt::format("{}", *r.memory_swappiness));
    }
  }
  if (r.nano_cpus) {
    const auto d = dir("cpu", path);
    write_existing_file(d / "cpu.cfs_period_us", fmt::format("{}", kCpuPeriodUs));
    write_existing_file(d / "cpu.cfs_quota_us", fmt::format("{}", cpu_quota_us(*r.nano_cpus)));
  }
  if (r.cpu_period) {
    write_existing_file(dir("cpu", path) / "cpu.cfs_period_us", fmt::format("{}", *r.cpu_period));
  }
  if (r.cpu_quota) {
    write_existing_file(dir("cpu", path) / "cpu.cfs_quota_us", fmt::format("{}", *r.cpu_quota));
  }
  if (r.blkio_weight) {
    const auto d = dir("blkio", path);
    const auto file =
        std::filesystem::exists(d / "blkio.weight") ? d / "blkio.weight" : d / "blkio.bfq.weight";
    write_existing_file(file, fmt::format("{}", *r.blkio_weight));
  }
  for (const auto& [file, devices] : throttle_files(r)) {
    for (const auto& device : *devices) {
      write_existing_file(dir("blkio", path) / file,
                          fmt::format("{} {}", device_number(device), device.rate));
    }
  }
  if (r.cpu_shares) {
    write_existing_file(dir("cpu", path) / "cpu.shares", fmt::format("{}", *r.cpu_shares));
  }
  if (r.cpuset_cpus) {
    write_existing_file(dir("cpuset", path) / "cpuset.cpus", *r.cpuset_cpus);
  }
  if (r.cpuset_mems) {
    write_existing_file(dir("cpuset", path) / "cpuset.mems", *r.cpuset_mems);
  }
  if (r.pids_limit) {
    write_existing_file(dir("pids", path) / "pids.max", fmt::format("{}", *r.pids_limit));
  }
  if (!r.devices.empty()) {
    // A new cgroup starts with its parent's list; "a" on deny empties it (only a cgroup without
    // children may change that way: the container's is a leaf).
    const auto d = dir("devices", path);
    for (const auto& rule : r.devices) {
      write_existing_file(d / (rule.allow ? "devices.allow" : "devices.deny"), to_string(rule));
    }
  }
}

void V1Driver::add_process(std::string_view path, pid_t pid) const {
  const auto relative = normalize_path(path);
  for (const auto& mount : hierarchies()) {
    write_existing_file(mount / relative / "cgroup.procs", fmt::format("{}", pid));
  }
}

std::vector<pid_t> V1Driver::pids(std::string_view path) const {
  const auto relative = normalize_path(path);
  std::vector<pid_t> all;
  // A process may have been added to some hierarchies only (a failure half-way): list them all.
  for (const auto& mount : hierarchies()) {
    const auto some = detail::read_pids(mount / relative / "cgroup.procs");
    all.insert(all.end(), some.begin(), some.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

Stats V1Driver::stats(std::string_view path) const {
  Stats s;
  if (has("memory")) {
    const auto d = dir("memory", path);
    s.memory_current = detail::read_u64(d / "memory.usage_in_bytes");
    s.memory_peak = detail::read_u64(d / "memory.max_usage_in_bytes");
    s.memory_limit = detail::read_limit(d / "memory.limit_in_bytes");
    s.memory_inactive_file = detail::read_key(d / "memory.stat", "total_inactive_file").value_or(0);
    s.oom_kills = oom_kills(path);
  }
  if (has("cpuacct")) {
    s.cpu_usage_ns = detail::read_u64(dir("cpuacct", path) / "cpuacct.usage");
  }
  if (has("pids")) {
    s.pids_current = detail::read_u64(dir("pids", path) / "pids.current");
  }
  if (has("blkio")) {
    std::tie(s.io_read_bytes, s.io_write_bytes) =
        detail::read_io_v1(dir("blkio", path) / "blkio.throttle.io_service_bytes_recursive");
  }
  return s;
}

std::uint64_t V1Driver::oom_kills(std::string_view path) const {
  if (!has("memory")) {
    return 0;
  }
  const auto d = dir("memory", path);
  // oom_kill appeared in 4.13; before it, hitting the limit (failcnt) is the best hint.
  const auto kills = detail::read_key(d / "memory.oom_control", "oom_kill");
  return kills ? *kills : detail::read_u64(d / "memory.failcnt").value_or(0);
}

bool V1Driver::exists(std::string_view path) const {
  const auto relative = normalize_path(path);
  const auto all = hierarchies();
  return std::any_of(all.begin(), all.end(), [&](const auto& mount) {
    return std::filesystem::is_directory(mount / relative);
  });
}

UniqueFd V1Driver::open_dir(std::string_view) const {
  return UniqueFd{};
}

namespace {

std::string freezer_state(const std::filesystem::path& dir) {
  const auto text = try_read_file(dir / "freezer.state");
  return text ? std::string(trim(*text)) : std::string();
}

}  // namespace

void V1Driver::freeze(std::string_view path, bool frozen, std::chrono::milliseconds timeout) const {
  const auto relative = normalize_path(path);
  if (!freezer_) {
    throw Error(ENOTSUP, "pause: the cgroup v1 freezer controller is not mounted");
  }
  const auto dir = *freezer_ / relative;
  const auto deadline = detail::Clock::now() + timeout;
  const auto wait_for = [&](std::string_view state) {
    // FREEZING until every task has stopped; writing FROZEN again makes the kernel try again.
    while (freezer_state(dir) != state) {
      if (detail::Clock::now() >= deadline) {
        throw Error(EBUSY, fmt::format("{} cgroup \"{}\": still {}", frozen ? "freeze" : "thaw",
                                       relative, freezer_state(dir)));
      }
      write_existing_file(dir / "freezer.state", state);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  if (!frozen) {
    if (std::filesystem::exists(dir)) {
      write_existing_file(dir / "freezer.state", "THAWED");
      wait_for("THAWED");
    }
    return;
  }
  detail::make_levels(*freezer_, relative);
  // Moves the processes in until none is left outside: one may fork while being moved, and
  // its child shows up on the next read. Checked again once frozen, for a child forked by a
  // process not yet moved; a process moved into a frozen cgroup freezes.
  for (bool settled = false; !settled;) {
    settled = true;
    const auto inside = detail::read_pids(dir / "cgroup.procs");
    for (const pid_t pid : pids(path)) {
      if (!std::binary_search(inside.begin(), inside.end(), pid)) {
        settled = false;
        try {
          write_existing_file(dir / "cgroup.procs", std::to_string(pid));
        } catch (const Error& e) {
          if (e.errno_value() != ESRCH) {
            throw;
          }
        }
      }
    }
    if (settled) {
      write_existing_file(dir / "freezer.state", "FROZEN");
      wait_for("FROZEN");
      const auto now_inside = detail::read_pids(dir / "cgroup.procs");
      for (const pid_t pid : pids(path)) {
        settled = settled && std::binary_search(now_inside.begin(), now_inside.end(), pid);
      }
    }
    if (detail::Clock::now() >= deadline) {
      throw Error(EBUSY,
                  fmt::format("freeze cgroup \"{}\": its processes keep changing", relative));
    }
  }
}

bool V1Driver::frozen(std::string_view path) const {
  if (!freezer_) {
    return false;
  }
  const auto state = freezer_state(*freezer_ / normalize_path(path));
  return state == "FROZEN" || state == "FREEZING";
}

void V1Driver::kill_all(std::string_view path, std::chrono::milliseconds timeout) const {
  if (frozen(path)) {
    freeze(path, false, timeout);
  }
  CgroupDriver::kill_all(path, timeout);
}

void V1Driver::remove(std::string_view path, std::chrono::milliseconds timeout) const {
  const auto relative = normalize_path(path);
  const auto deadline = detail::Clock::now() + timeout;
  // Try every hierarchy even after a failure, so that one busy directory leaves only itself.
  std::exception_ptr first_error;
  auto all = hierarchies();
  if (freezer_ && std::find(all.begin(), all.end(), *freezer_) == all.end()) {
    all.push_back(*freezer_);
  }
  for (const auto& mount : all) {
    try {
      detail::remove_dir(mount / relative, deadline);
    } catch (const Error&) {
      if (!first_error) {
        first_error = std::current_exception();
      }
    }
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
}

}  // namespace gctool::cgroup
