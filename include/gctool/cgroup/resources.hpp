// What a container may use: the limits a CgroupHandle applies, checked by validate() before any
// cgroup exists, so that a bad flag fails with one clear line and leaves nothing behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/cgroup/devices.hpp"

namespace gctool::cgroup {

// --device-read-bps and friends: a rate limit on one block device, named by the path the user
// gave (what inspect shows) and the device number the kernel's files take ("8:0").
struct ThrottleDevice {
  std::string path;
  std::int64_t major = -1;  // -1: the path no longer names a device (the driver refuses it)
  std::int64_t minor = -1;
  std::uint64_t rate = 0;  // bytes or operations per second; 0 removes the limit

  bool operator==(const ThrottleDevice&) const = default;
};

// Unset fields are left as the kernel (or the parent cgroup) has them. Designated initializers
// work: Resources{.memory_bytes = 64 << 20}.
struct Resources {
  // memory.max / memory.limit_in_bytes; swap is capped to the same value where the host allows.
  std::optional<std::int64_t> memory_bytes = std::nullopt;
  // 1e9 = one CPU; becomes a CFS quota per kCpuPeriodUs.
  std::optional<std::int64_t> nano_cpus = std::nullopt;
  // v1 cpu.shares; v2 cpu.weight by runc's conversion.
  std::optional<std::int64_t> cpu_shares = std::nullopt;
  std::optional<std::string> cpuset_cpus = std::nullopt;  // "0-2,5"
  std::optional<std::string> cpuset_mems = std::nullopt;  // NUMA nodes, same syntax
  std::optional<std::int64_t> pids_limit = std::nullopt;  // pids.max
  // Docker's --memory-swap: memory plus swap in bytes, -1 for unlimited swap; needs memory_bytes.
  std::optional<std::int64_t> memory_swap = std::nullopt;
  // --memory-reservation: v1 memory.soft_limit_in_bytes, v2 memory.low.
  std::optional<std::int64_t> memory_reservation = std::nullopt;
  bool oom_kill_disable = false;  // --oom-kill-disable: v1 memory.oom_control
  // --cpu-period and --cpu-quota (microseconds), instead of nano_cpus.
  std::optional<std::int64_t> cpu_period = std::nullopt;
  std::optional<std::int64_t> cpu_quota = std::nullopt;
  // --blkio-weight (10..1000): blkio.weight or io.weight, where the host's scheduler has one.
  std::optional<std::int64_t> blkio_weight = std::nullopt;
  // --memory-swappiness (0..100): v1 memory.swappiness; cgroup v2 has none (dropped with a warning,
  // as Docker does).
  std::optional<std::int64_t> memory_swappiness = std::nullopt;
  // --device-{read,write}-{bps,iops}: v1 blkio.throttle.*_device, v2 io.max.
  std::vector<ThrottleDevice> device_read_bps = {};
  std::vector<ThrottleDevice> device_write_bps = {};
  std::vector<ThrottleDevice> device_read_iops = {};
  std::vector<ThrottleDevice> device_write_iops = {};
  // The devices cgroup's rules, in order (v1 devices.deny/allow, v2 a BPF program); empty:
  // the container has what its parent cgroup allows.
  std::vector<DeviceRule> devices = {};

  bool operator==(const Resources&) const = default;
};

// Docker's floor: the kernel needs some memory for the cgroup itself.
inline constexpr std::int64_t kMinMemoryBytes = 6 * 1024 * 1024;
// The CFS period every quota is expressed in (microseconds), as Docker does.
inline constexpr std::int64_t kCpuPeriodUs = 100000;
inline constexpr std::int64_t kMinCpuShares = 2;
inline constexpr std::int64_t kMaxCpuShares = 262144;
inline constexpr std::int64_t kMinCpuPeriodUs = 1000;
inline constexpr std::int64_t kMaxCpuPeriodUs = 1000000;
inline constexpr std::int64_t kMinBlkioWeight = 10;
inline constexpr std::int64_t kMaxBlkioWeight = 1000;

// The quota in microseconds per kCpuPeriodUs for nano_cpus (0.5 CPUs -> 50000).
constexpr std::int64_t cpu_quota_us(std::int64_t nano_cpus) {
  return nano_cpus * kCpuPeriodUs / 1000000000;
}

// v1 cpu.shares -> v2 cpu.weight (1..10000), the conversion runc and crun use.
constexpr std::uint64_t cpu_weight_from_shares(std::int64_t shares) {
  return 1 + ((static_cast<std::uint64_t>(shares) - 2) * 9999) / 262142;
}

inline constexpr std::int64_t kMaxMemorySwappiness = 100;

// Whether any --device-*-bps/iops limit is set.
inline bool has_io_throttle(const Resources& r) {
  return !r.device_read_bps.empty() || !r.device_write_bps.empty() || !r.device_read_iops.empty() ||
         !r.device_write_iops.empty();
}

// "8:0", the form the kernel's files take; throws Error::invalid when the path named no device
// when the spec was loaded.
std::string device_number(const ThrottleDevice& device);

// Sets the device's major and minor from its path: 0 when the path is a block device, else the
// errno of stat or ENOTBLK (the numbers are left as they were).
int resolve_block_device(ThrottleDevice& device) noexcept;

// A --device-read-bps value "PATH:RATE" (RATE with an optional k/m/g unit: "1mb") or, with
// `iops`, an --device-read-iops one (a plain count). `flag` names the flag in the error. The path
// must be a block device under /dev; it is resolved to its number here. Throws Error::invalid.
ThrottleDevice parse_throttle_device(std::string_view flag, std::string_view value, bool iops);

// Where validate() learns which CPUs and memory nodes the host has; tests point these at files.
struct HostTopology {
  std::filesystem::path online_cpus = "/sys/devices/system/cpu/online";
  std::filesystem::path online_mems = "/sys/devices/system/node/online";  // optional file
};

// Throws Error::invalid with a one-line message when a value cannot be applied: memory below
// 6 MiB, a CPU count that is not positive or exceeds the host's CPUs, a malformed cpuset or one
// naming CPUs/nodes the host does not have, shares outside 2..262144, a pids limit below 1, and
// Docker's rules for swap, reservation, CFS period and quota, the blkio weight and swappiness.
void validate(const Resources& resources, const HostTopology& host = {});

}  // namespace gctool::cgroup
