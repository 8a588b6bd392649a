#include "gctool/cgroup/v2_driver.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <fmt/std.h>

#include "cgroupfs.hpp"
#include "gctool/cgroup/device_filter.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool::cgroup {

namespace {

// Controllers a container's cgroup gets even without limits, so that stats work (io: BLOCK I/O).
constexpr std::array<std::string_view, 5> kWanted = {"cpu", "cpuset", "io", "memory", "pids"};

std::set<std::string, std::less<>> needed_controllers(const Resources& r) {
  std::set<std::string, std::less<>> needed;
  if (r.memory_bytes || r.memory_reservation) {
    needed.insert("memory");
  }
  if (r.nano_cpus || r.cpu_shares || r.cpu_period || r.cpu_quota) {
    needed.insert("cpu");
  }
  if (r.blkio_weight || has_io_throttle(r)) {
    needed.insert("io");
  }
  if (r.cpuset_cpus || r.cpuset_mems) {
    needed.insert("cpuset");
  }
  if (r.pids_limit) {
    needed.insert("pids");
  }
  return needed;
}

std::set<std::string, std::less<>> words(std::string_view text) {
  std::set<std::string, std::less<>> out;
  std::size_t pos = 0;
  while ((pos = text.find_first_not_of(" \t\n", pos)) != std::string_view::npos) {
    const auto end = std::min(text.find_first_of(" \t\n", pos), text.size());
    out.emplace(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// Makes the wanted controllers available to the children of `dir` (one level).
void enable_controllers(const std::filesystem::path& dir,
                        const std::set<std::string, std::less<>>& needed) {
  const auto available = words(read_file(dir / "cgroup.controllers"));
  const auto enabled = words(read_file(dir / "cgroup.subtree_control"));
  for (const auto& name : needed) {
    if (!available.contains(name)) {
      throw Error(ENOTSUP, fmt::format("enable cgroup v2 controller \"{}\" in {}", name, dir));
    }
  }
  std::vector<std::string> missing;
  for (const auto name : kWanted) {
    if (available.contains(name) && !enabled.contains(name) && !needed.contains(name)) {
      missing.emplace_back(fmt::format("+{}", name));
    }
  }
  for (const auto& name : needed) {
    if (!enabled.contains(name)) {
      missing.emplace_back(fmt::format("+{}", name));
    }
  }
  if (missing.empty()) {
    return;
  }
  const auto control = dir / "cgroup.subtree_control";
  try {
    write_existing_file(control, fmt::format("{}", fmt::join(missing, " ")));
  } catch (const Error&) {
    // One write is all or nothing; retry one by one so an optional controller the kernel
    // refuses (cpu with realtime threads around) does not stop the ones we need.
    for (const auto& item : missing) {
      try {
        write_existing_file(control, item);
      } catch (const Error&) {
        if (needed.contains(std::string_view(item).substr(1))) {
          throw;
        }
      }
    }
  }
}

// io.max lines, one per device with only the keys given ("8:0 rbps=1048576 wiops=10"): a key left
// out keeps its value. 0 removes a limit, as on v1 ("max").
std::vector<std::string> io_max_lines(const Resources& r) {
  std::map<std::string, std::string> lines;
  const auto add = [&](const std::vector<ThrottleDevice>& devices, std::string_view key) {
    for (const auto& device : devices) {
      auto& line = lines[device_number(device)];
      line += fmt::format(" {}={}", key,
                          device.rate == 0 ? std::string("max") : fmt::format("{}", device.rate));
    }
  };
  add(r.device_read_bps, "rbps");
  add(r.device_write_bps, "wbps");
  add(r.device_read_iops, "riops");
  add(r.device_write_iops, "wiops");
  std::vector<std::string> out;
  for (const auto& [device, keys] : lines) {
    out.push_back(device + keys);
  }
  return out;
}

}  // namespace

V2Driver::V2Driver(std::filesystem::path root) : root_(std::move(root)) {}

std::filesystem::path V2Driver::dir(std::string_view path) const {
  return root_ / normalize_path(path);
}

void V2Driver::create(std::string_view path, const Resources& resources) const {
  const auto needed = needed_controllers(resources);
  // Each ancestor, from the root down to the parent, must delegate the controllers to the level
  // below before that level has them; the leaf keeps an empty subtree_control so that it may
  // hold processes. The root is checked first, so a missing controller creates nothing.
  enable_controllers(root_, needed);
  auto d = root_;
  const std::filesystem::path relative = normalize_path(path);
  for (auto part = relative.begin(); part != relative.end(); ++part) {
    d /= *part;
    detail::make_dir(d);
    if (std::next(part) != relative.end()) {
      enable_controllers(d, needed);
    }
  }
}

std::vector<std::string> V2Driver::check_supported(const Resources& r) const {
  std::vector<std::string> warnings;
  const auto available = words(try_read_file(root_ / "cgroup.controllers").value_or(""));
  // The root cgroup has no memory.swap.max; children that exist on most hosts tell.
  if (r.memory_swap && !std::filesystem::exists(root_ / "init.scope" / "memory.swap.max") &&
      !std::filesystem::exists(root_ / "system.slice" / "memory.swap.max")) {
    warnings.emplace_back(kNoSwapWarning);
  }
  if (r.oom_kill_disable) {
    warnings.emplace_back(
        "WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded.");
  }
  if (r.blkio_weight && !available.contains("io")) {
    throw Error::invalid("--blkio-weight: this host's cgroup v2 has no io controller");
  }
  if (has_io_throttle(r) && !available.contains("io")) {
    throw Error::invalid(
        "--device-read-bps and the like: this host's cgroup v2 has no io controller");
  }
  // cgroup v2 has no swappiness; Docker drops the value with this warning.
  if (r.memory_swappiness) {
    warnings.emplace_back(
        "WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is "
        "not mounted. Memory swappiness discarded.");
  }
  return warnings;
}

void V2Driver::apply(std::string_view path, const Resources& r) const {
  const auto d = dir(path);
  if (r.memory_bytes) {
    write_existing_file(d / "memory.max", fmt::format("{}", *r.memory_bytes));
    // Swap equal to the limit means no swap on top of it; the file is absent without swap.
    if (std::filesystem::exists(d / "memory.swap.max")) {
      const auto swap = !r.memory_swap ? std::string("0")
                        : *r.memory_swap == -1
                            ? std::string("max")
                            : fmt::format("{}", *r.memory_swap - *r.memory_bytes);
      write_existing_file(d / "memory.swap.max", swap);
    }
  }
  if (r.memory_reservation) {
    write_existing_file(d / "memory.low", fmt::format("{}", *r.memory_reservation));
  }
  if (r.nano_cpus) {
    write_existing_file(d / "cpu.max",
                        fmt::format("{} {}", cpu_quota_us(*r.nano_cpus), kCpuPeriodUs));
  }
  if (r.cpu_period || r.cpu_quota) {
    const auto quota =
        r.cpu_quota && *r.cpu_quota > 0 ? fmt::format("{}", *r.cpu_quota) : std::string("max");
    write_existing_file(d / "cpu.max",
                        fmt::format("{} {}", quota, r.cpu_period.value_or(kCpuPeriodUs)));
  }
  if (r.blkio_weight) {
    const auto file =
        std::filesystem::exists(d / "io.bfq.weight") ? d / "io.bfq.weight" : d / "io.weight";
    write_existing_file(file, fmt::format("default {}", *r.blkio_weight));
  }
  for (const auto& line : io_max_lines(r)) {
    write_existing_file(d / "io.max", line);
  }
  if (r.cpu_shares) {
    write_existing_file(d / "cpu.weight", fmt::format("{}", cpu_weight_from_shares(*r.cpu_shares)));
  }
  if (r.cpuset_cpus) {
    write_existing_file(d / "cpuset.cpus", *r.cpuset_cpus);
  }
  if (r.cpuset_mems) {
    write_existing_file(d / "cpuset.mems", *r.cpuset_mems);
  }
  if (r.pids_limit) {
    write_existing_file(d / "pids.max", fmt::format("{}", *r.pids_limit));
  }
  if (!r.devices.empty()) {
    attach_device_filter(open_dir(path), r.devices);
  }
}

void V2Driver::add_process(std::string_view path, pid_t pid) const {
  write_existing_file(dir(path) / "cgroup.procs", fmt::format("{}", pid));
}

std::vector<pid_t> V2Driver::pids(std::string_view path) const {
  auto pids = detail::read_pids(dir(path) / "cgroup.procs");
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

Stats V2Driver::stats(std::string_view path) const {
  const auto d = dir(path);
  Stats s;
  s.memory_current = detail::read_u64(d / "memory.current");
  s.memory_peak = detail::read_u64(d / "memory.peak");
  s.memory_limit = detail::read_limit(d / "memory.max");
  s.memory_inactive_file = detail::read_key(d / "memory.stat", "inactive_file").value_or(0);
  std::tie(s.io_read_bytes, s.io_write_bytes) = detail::read_io_v2(d / "io.stat");
  if (const auto usec = detail::read_key(d / "cpu.stat", "usage_usec")) {
    s.cpu_usage_ns = *usec * 1000;
  }
  s.pids_current = detail::read_u64(d / "pids.current");
  s.oom_kills = oom_kills(path);
  return s;
}

std::uint64_t V2Driver::oom_kills(std::string_view path) const {
  return detail::read_key(dir(path) / "memory.events", "oom_kill").value_or(0);
}

bool V2Driver::exists(std::string_view path) const {
  return std::filesystem::is_directory(dir(path));
}

UniqueFd V2Driver::open_dir(std::string_view path) const {
  const auto d = dir(path);
  UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open cgroup {}", d);
  }
  return fd;
}

void V2Driver::kill_all(std::string_view path, std::chrono::milliseconds timeout) const {
  const auto kill_file = dir(path) / "cgroup.kill";
  // cgroup.kill (5.14+) kills atomically, forks included; the loop below then only waits.
  if (std::filesystem::exists(kill_file) && !pids(path).empty()) {
    write_existing_file(kill_file, "1");
  }
  CgroupDriver::kill_all(path, timeout);
}

void V2Driver::freeze(std::string_view path, bool frozen, std::chrono::milliseconds timeout) const {
  const auto d = dir(path);
  if (!std::filesystem::exists(d / "cgroup.freeze")) {
    throw Error(ENOTSUP, fmt::format("pause: cgroup {} has no cgroup.freeze (Linux 5.2)", d));
  }
  write_existing_file(d / "cgroup.freeze", frozen ? "1" : "0");
  // The kernel reports the state it reached in cgroup.events ("frozen 1" once every process
  // has stopped).
  const auto deadline = detail::Clock::now() + timeout;
  while (detail::read_key(d / "cgroup.events", "frozen").value_or(0) != (frozen ? 1U : 0U)) {
    if (detail::Clock::now() >= deadline) {
      throw Error(EBUSY,
                  fmt::format("{} cgroup {}: not done in time", frozen ? "freeze" : "thaw", d));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool V2Driver::frozen(std::string_view path) const {
  const auto text = try_read_file(dir(path) / "cgroup.freeze");
  return text && trim(*text) == "1";
}

void V2Driver::remove(std::string_view path, std::chrono::milliseconds timeout) const {
  detail::remove_dir(dir(path), detail::Clock::now() + timeout);
}

}  // namespace gctool::cgroup
