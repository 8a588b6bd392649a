// Starts the kernel's wait before a cgroup v1 migration early, so it overlaps other work.
//
// Moving a process into a cgroup v1 hierarchy (a write to cgroup.procs) first waits for an RCU
// grace period while the kernel switches cgroup_threadgroup_rwsem to its writer mode (measured with
// perf trace on the benchmarks' 2-CPU cgroup-v1 VM: 10-16 ms), with the container's init waiting
// for it. A warm-up moves this process into the cgroup it is already in from an io_uring worker, as
// soon as a command knows it will start a container; that wait then runs alongside the image
// lookup, the state writes and the init's root filesystem, and the init's own move finds it over
// (the kernel stays in writer mode for a grace period after the last writer). Nothing happens on a
// v2-only host, where the init starts in its cgroup (CLONE_INTO_CGROUP) without that lock. Best
// effort: a failure only costs the speed-up.
#pragma once

#include <memory>

#include "gctool/core/fd.hpp"

struct io_uring;

namespace gctool::cgroup {

class MigrationWarmup {
 public:
  // Submits the no-op move when the host's controllers are v1; an idle object otherwise.
  static MigrationWarmup start() noexcept;

  MigrationWarmup() = default;
  MigrationWarmup(MigrationWarmup&&) noexcept = default;
  MigrationWarmup& operator=(MigrationWarmup&&) noexcept = default;
  ~MigrationWarmup() = default;

  // Whether a move was submitted.
  bool started() const noexcept { return ring_ != nullptr; }

 private:
  struct RingDeleter {
    void operator()(io_uring* ring) const noexcept;
  };
  // The file must stay open until the worker has issued the write: destroyed after the ring.
  UniqueFd procs_;
  std::unique_ptr<io_uring, RingDeleter> ring_;
};

}  // namespace gctool::cgroup
