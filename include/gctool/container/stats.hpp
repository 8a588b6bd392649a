// What `stats` shows of a container: its cgroup's CPU time, memory, block I/O and pids, and the
// traffic of its network namespace, sampled at one moment; CPU % comes from two samples.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include "gctool/container/state.hpp"

namespace gctool::container {

struct Usage {
  bool running = false;
  std::int64_t taken_ns = 0;  // CLOCK_MONOTONIC
  std::uint64_t cpu_ns = 0;
  std::uint64_t memory = 0;        // usage less the page cache the kernel may reclaim, as Docker
  std::uint64_t memory_limit = 0;  // the cgroup's limit, else the host's memory
  std::uint64_t net_rx = 0;        // bytes, every interface but lo
  std::uint64_t net_tx = 0;
  std::uint64_t block_read = 0;
  std::uint64_t block_write = 0;
  std::uint64_t pids = 0;
};

// A sample of a running container (the record as reconciled); zeros but the host's memory for
// one that is not running or whose cgroup has gone meanwhile.
Usage sample_usage(const Record& record);

// Docker's CPU %: the CPU time used between the samples over the time between them, 100 per CPU
// kept busy; 0 without two running samples.
double cpu_percent(const Usage& before, const Usage& after) noexcept;

// The sum of the receive and transmit byte counters of a /proc/PID/net/dev text, lo excluded.
std::pair<std::uint64_t, std::uint64_t> parse_net_dev(std::string_view text);

}  // namespace gctool::container
