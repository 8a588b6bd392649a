// One interface over cgroup v1 and v2. A driver is stateless apart from where the cgroupfs is, so
// one instance serves every handle; paths are relative to the hierarchy roots ("gctool/<id>").
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/cgroup/layout.hpp"
#include "gctool/cgroup/resources.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::cgroup {

// Usage figures; a field is empty when the host lacks the file that holds it.
struct Stats {
  std::optional<std::uint64_t> memory_current;  // bytes
  std::optional<std::uint64_t> memory_peak;     // bytes, high-water mark
  std::optional<std::uint64_t> cpu_usage_ns;    // user + system CPU time of all processes
  std::optional<std::uint64_t> pids_current;
  std::optional<std::uint64_t> memory_limit;  // bytes; empty when unlimited
  std::uint64_t memory_inactive_file = 0;     // page cache the kernel may reclaim (not "usage")
  std::uint64_t io_read_bytes = 0;            // block devices, all of them
  std::uint64_t io_write_bytes = 0;
  std::uint64_t oom_kills = 0;  // processes the OOM killer killed for this cgroup's limit
};

// Docker's warning when --memory-swap cannot be applied.
inline constexpr std::string_view kNoSwapWarning =
    "WARNING: Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
    "Memory limited without swap.";

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;

  // 1 or 2.
  virtual int version() const noexcept = 0;

  // Creates the cgroup and any missing ancestors (an existing one is reused) and prepares them
  // for `resources`: v2 enables controllers in ancestors' cgroup.subtree_control, v1 copies
  // cpuset.cpus/mems into new cpuset levels. Throws Error(ENOTSUP) when a controller that
  // `resources` needs is not available.
  virtual void create(std::string_view path, const Resources& resources) const = 0;

  // Throws Error::invalid naming the flag for a limit this host cannot apply (no weight file
  // for --blkio-weight); returns Docker's warnings for limits it drops as Docker does (swap
  // without swap accounting, --oom-kill-disable on v2). Reads only; nothing is created.
  virtual std::vector<std::string> check_supported(const Resources& resources) const = 0;

  // Writes the set fields of `resources` into the cgroup's files.
  virtual void apply(std::string_view path, const Resources& resources) const = 0;

  // Moves process `pid` (all its threads) into the cgroup, in every hierarchy on v1.
  virtual void add_process(std::string_view path, pid_t pid) const = 0;

  // The processes in the cgroup, sorted, without duplicates; empty when it does not exist.
  virtual std::vector<pid_t> pids(std::string_view path) const = 0;

  virtual Stats stats(std::string_view path) const = 0;

  // Stats::oom_kills alone, from the one file that holds it: what is read at every exit.
  virtual std::uint64_t oom_kills(std::string_view path) const = 0;

  // Whether the cgroup directory exists (in any hierarchy on v1).
  virtual bool exists(std::string_view path) const = 0;

  // A directory fd for clone3(CLONE_INTO_CGROUP) on v2; an invalid fd on v1, where the caller
  // add_process()es the child instead before letting it continue.
  virtual UniqueFd open_dir(std::string_view path) const = 0;

  // Kills every process in the cgroup and waits until it is empty (SIGKILL to cgroup.procs
  // repeated while processes remain or fork; v2 writes cgroup.kill first when the kernel has
  // it). Does nothing when the cgroup does not exist. Throws Error(EBUSY) after `timeout`.
  virtual void kill_all(std::string_view path, std::chrono::milliseconds timeout) const;

  // Freezes every process of the cgroup (`pause`), or thaws them, and returns once the kernel
  // reports it done; Error(EBUSY) after `timeout`, Error(ENOTSUP) when the host has no freezer.
  // v2 writes cgroup.freeze and waits for "frozen" in cgroup.events. v1 gives a container a
  // freezer cgroup only when it is first paused, so that containers that never are start no
  // slower: its processes are moved into freezer/<path>, then freezer.state is set.
  virtual void freeze(std::string_view path, bool frozen,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const = 0;
  // Whether the cgroup is frozen; false when it does not exist or has no freezer.
  virtual bool frozen(std::string_view path) const = 0;
  // Removes the cgroup directory (every hierarchy on v1), retrying rmdir on EBUSY while exiting
  // processes drain, up to `timeout`. Succeeds when it is already gone. Ancestors are kept.
  virtual void remove(std::string_view path, std::chrono::milliseconds timeout) const = 0;
};

// The driver for a layout: v2 for unified, v1 (controller mounts) for v1 and hybrid.
std::shared_ptr<const CgroupDriver> make_driver(const CgroupLayout& layout);

// make_driver(host_layout()), made once per process.
std::shared_ptr<const CgroupDriver> host_driver();

// "parent/container_id" after checking both; the default parent is "gctool".
std::string container_cgroup_path(std::string_view container_id,
                                  std::string_view parent = "gctool");

// The relative cgroup path without leading/trailing slashes. Throws Error::invalid for an empty
// path or one with "." or ".." components, so a path can never leave the hierarchy.
std::string normalize_path(std::string_view path);

}  // namespace gctool::cgroup
