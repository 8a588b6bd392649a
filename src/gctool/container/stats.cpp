#include "gctool/container/stats.hpp"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <sstream>
#include <string>
#include <tuple>

#include "gctool/cgroup/driver.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool::container {
namespace {

std::int64_t monotonic_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1000000000LL + now.tv_nsec;
}

// MemTotal of /proc/meminfo in bytes; 0 when unreadable.
std::uint64_t host_memory() {
  const auto text = try_read_file("/proc/meminfo");
  if (!text) {
    return 0;
  }
  const auto at = text->find("MemTotal:");
  if (at == std::string::npos) {
    return 0;
  }
  auto rest = trim(std::string_view(*text).substr(at + 9));
  std::uint64_t kib = 0;
  std::from_chars(rest.data(), rest.data() + rest.size(), kib);
  return kib * 1024;
}

}  // namespace

std::pair<std::uint64_t, std::uint64_t> parse_net_dev(std::string_view text) {
  std::pair<std::uint64_t, std::uint64_t> sum{0, 0};
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const auto line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    // "  eth0: RX bytes packets errs drop fifo frame compressed multicast TX bytes ..."
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || trim(line.substr(0, colon)) == "lo" ||
        line.find('|') != std::string_view::npos) {
      continue;
    }
    // Receive bytes, seven more receive counters, then transmit bytes.
    std::istringstream fields{std::string(line.substr(colon + 1))};
    std::uint64_t counters[9] = {};
    for (auto& counter : counters) {
      fields >> counter;
    }
    if (fields) {
      sum.first += counters[0];
      sum.second += counters[8];
    }
  }
  return sum;
}

Usage sample_usage(const Record& record) {
  Usage usage;
  usage.taken_ns = monotonic_ns();
  usage.memory_limit = host_memory();
  if (!record.running() || record.cgroup_path.empty()) {
    return usage;
  }
  const auto driver = cgroup::host_driver();
  if (!driver->exists(record.cgroup_path)) {
    return usage;
  }
  cgroup::Stats stats;
  try {
    stats = driver->stats(record.cgroup_path);
  } catch (const Error&) {
    // Removed between the two reads: the container has just exited.
    return usage;
  }
  usage.running = true;
  usage.cpu_ns = stats.cpu_usage_ns.value_or(0);
  const auto current = stats.memory_current.value_or(0);
  usage.memory =
      stats.memory_inactive_file < current ? current - stats.memory_inactive_file : current;
  if (stats.memory_limit && (usage.memory_limit == 0 || *stats.memory_limit < usage.memory_limit)) {
    usage.memory_limit = *stats.memory_limit;
  }
  usage.block_read = stats.io_read_bytes;
  usage.block_write = stats.io_write_bytes;
  usage.pids = stats.pids_current.value_or(0);
  if (const auto dev =
          try_read_file("/proc/" + std::to_string(record.state.process.pid) + "/net/dev")) {
    std::tie(usage.net_rx, usage.net_tx) = parse_net_dev(*dev);
  }
  return usage;
}

double cpu_percent(const Usage& before, const Usage& after) noexcept {
  if (!before.running || !after.running || after.taken_ns <= before.taken_ns ||
      after.cpu_ns < before.cpu_ns) {
    return 0.0;
  }
  return 100.0 * static_cast<double>(after.cpu_ns - before.cpu_ns) /
         static_cast<double>(after.taken_ns - before.taken_ns);
}

}  // namespace gctool::container
