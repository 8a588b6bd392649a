#include "gctool/cgroup/resources.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/units.hpp"

namespace gctool::cgroup {

namespace {

// The ids of a cpuset list; an empty one is an error here, as the kernel would refuse it.
std::vector<int> parse_list(std::string_view text, std::string_view what) {
  std::vector<int> ids;
  try {
    ids = parse_cpu_list(text);
  } catch (const Error& e) {
    // parse_cpu_list speaks of CPUs; memory nodes use the same syntax.
    if (what == "CPUs") {
      throw;
    }
    throw_invalid("{}: {}", what, e.what());
  }
  if (ids.empty()) {
    throw_invalid("invalid {} \"{}\": the list is empty", what, text);
  }
  return ids;
}

// Every id of `requested` must be in the host's list (when the host publishes one).
void check_available(const std::string& requested, std::string_view what,
                     const std::filesystem::path& host_file) {
  const auto ids = parse_list(requested, what);
  const auto host_text = try_read_file(host_file);
  if (!host_text) {
    return;
  }
  const auto host = parse_cpu_list(*host_text);
  if (!std::includes(host.begin(), host.end(), ids.begin(), ids.end())) {
    std::string available = *host_text;
    while (!available.empty() && available.back() == '\n') {
      available.pop_back();
    }
    throw_invalid("requested {} are not available - requested {}, available: {}", what, requested,
                  available);
  }
}

}  // namespace

std::string device_number(const ThrottleDevice& device) {
  if (device.major < 0 || device.minor < 0) {
    throw_invalid("{}: no such block device", device.path);
  }
  return fmt::format("{}:{}", device.major, device.minor);
}

int resolve_block_device(ThrottleDevice& device) noexcept {
  struct stat st {};
  if (::stat(device.path.c_str(), &st) != 0) {
    return errno;
  }
  if (!S_ISBLK(st.st_mode)) {
    return ENOTBLK;
  }
  device.major = static_cast<std::int64_t>(major(st.st_rdev));
  device.minor = static_cast<std::int64_t>(minor(st.st_rdev));
  return 0;
}

ThrottleDevice parse_throttle_device(std::string_view flag, std::string_view value, bool iops) {
  // Docker's wording: the path is checked for its "/dev/" prefix, the rate for its syntax.
  const auto colon = value.rfind(':');
  if (colon == std::string_view::npos) {
    throw_invalid("invalid argument \"{}\" for \"{}\" flag: bad format: {}", value, flag, value);
  }
  const auto path = value.substr(0, colon);
  const auto rate_text = value.substr(colon + 1);
  if (!path.starts_with("/dev/")) {
    throw_invalid("invalid argument \"{}\" for \"{}\" flag: bad format for device path: {}", value,
                  flag, value);
  }
  ThrottleDevice device{std::string(path)};
  try {
    if (iops) {
      std::uint64_t count = 0;
      const auto* end = rate_text.data() + rate_text.size();
      const auto [ptr, ec] = std::from_chars(rate_text.data(), end, count);
      if (rate_text.empty() || ec != std::errc() || ptr != end) {
        throw Error::invalid("not a count");
      }
      device.rate = count;
    } else {
      device.rate = static_cast<std::uint64_t>(parse_memory_size(rate_text));
    }
  } catch (const Error&) {
    throw_invalid(
        "invalid argument \"{}\" for \"{}\" flag: invalid rate for device: {}. The correct "
        "format is <device-path>:<number>{}. Number must be a positive integer{}",
        value, flag, value, iops ? "" : "[<unit>]",
        iops ? "" : ". Unit is optional and can be kb, mb, or gb");
  }
  // Resolved now, as the daemon does before it creates the container: a missing or non-block
  // path fails here with nothing made.
  if (const int err = resolve_block_device(device); err == ENOTBLK) {
    throw_invalid("invalid argument \"{}\" for \"{}\" flag: {} is not a block device", value, flag,
                  device.path);
  } else if (err != 0) {
    throw_invalid("invalid argument \"{}\" for \"{}\" flag: {}: {}", value, flag, device.path,
                  std::strerror(err));
  }
  return device;
}

void validate(const Resources& resources, const HostTopology& host) {
  if (resources.memory_bytes && *resources.memory_bytes < kMinMemoryBytes) {
    throw Error::invalid("minimum memory limit allowed is 6MB");
  }
  if (resources.nano_cpus) {
    const auto host_cpus = try_read_file(host.online_cpus);
    const std::size_t count = host_cpus ? parse_cpu_list(*host_cpus).size() : 0;
    const std::int64_t nano = *resources.nano_cpus;
    const bool too_many = count > 0 && nano > static_cast<std::int64_t>(count) * 1000000000;
    if (cpu_quota_us(nano) < 1000 || too_many) {
      if (count > 0) {
        throw_invalid("range of CPUs is from 0.01 to {}.00, as there are only {} CPUs available",
                      count, count);
      }
      throw Error::invalid("the CPU count must be at least 0.01");
    }
  }
  if (resources.cpu_shares &&
      (*resources.cpu_shares < kMinCpuShares || *resources.cpu_shares > kMaxCpuShares)) {
    throw_invalid("CPU shares {} out of range: must be between {} and {}", *resources.cpu_shares,
                  kMinCpuShares, kMaxCpuShares);
  }
  if (resources.cpuset_cpus) {
    check_available(*resources.cpuset_cpus, "CPUs", host.online_cpus);
  }
  if (resources.cpuset_mems) {
    check_available(*resources.cpuset_mems, "memory nodes", host.online_mems);
  }
  // Docker's rules and wording.
  if (resources.memory_swap) {
    if (!resources.memory_bytes) {
      throw Error::invalid(
          "you should always set the memory limit when using the memoryswap limit, see usage");
    }
    if (*resources.memory_swap != -1 && *resources.memory_swap < *resources.memory_bytes) {
      throw Error::invalid(
          "minimum memoryswap limit should be larger than memory limit, see usage");
    }
  }
  if (resources.memory_reservation) {
    if (*resources.memory_reservation < kMinMemoryBytes) {
      throw Error::invalid("minimum memory reservation allowed is 6MB");
    }
    if (resources.memory_bytes && *resources.memory_bytes < *resources.memory_reservation) {
      throw Error::invalid(
          "minimum memory limit can not be less than memory reservation limit, see usage");
    }
  }
  if (resources.nano_cpus && resources.cpu_period) {
    throw Error::invalid("conflicting options: Nano CPUs and CPU Period cannot both be set");
  }
  if (resources.nano_cpus && resources.cpu_quota) {
    throw Error::invalid("conflicting options: Nano CPUs and CPU Quota cannot both be set");
  }
  if (resources.cpu_period &&
      (*resources.cpu_period < kMinCpuPeriodUs || *resources.cpu_period > kMaxCpuPeriodUs)) {
    throw Error::invalid(
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  if (resources.cpu_quota && *resources.cpu_quota != -1 && *resources.cpu_quota < 1000) {
    throw Error::invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  }
  if (resources.blkio_weight &&
      (*resources.blkio_weight < kMinBlkioWeight || *resources.blkio_weight > kMaxBlkioWeight)) {
    throw_invalid("range of blkio weight is from {} to {}", kMinBlkioWeight, kMaxBlkioWeight);
  }
  if (resources.memory_swappiness &&
      (*resources.memory_swappiness < 0 || *resources.memory_swappiness > kMaxMemorySwappiness)) {
    throw_invalid("invalid value: {}, valid memory swappiness range is 0-100",
                  *resources.memory_swappiness);
  }
  if (resources.pids_limit && *resources.pids_limit < 1) {
    throw_invalid("invalid pids limit {}: must be at least 1", *resources.pids_limit);
  }
  for (const auto& rule : resources.devices) {
    validate(rule);
  }
}

}  // namespace gctool::cgroup
