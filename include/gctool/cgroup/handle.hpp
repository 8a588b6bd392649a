// CgroupHandle owns one container's cgroup: it creates it (or opens an existing one), applies
// Resources, adds processes, reads stats, kills everything in it and removes it. Unless
// release()d, the destructor kills and removes it, so a half-built container leaves nothing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gctool/cgroup/driver.hpp"
#include "gctool/cgroup/resources.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::cgroup {

class CgroupHandle {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{5000};

  // Validates `resources` against the host, creates the cgroup at `path` (relative, e.g.
  // container_cgroup_path(id)) and applies them. On failure nothing created is left behind.
  static CgroupHandle create(std::shared_ptr<const CgroupDriver> driver, std::string_view path,
                             const Resources& resources = {});

  // Takes ownership of an existing cgroup, e.g. one a previous gctool process created, to kill
  // and remove it. Throws Error(ENOENT) when it does not exist.
  static CgroupHandle open(std::shared_ptr<const CgroupDriver> driver, std::string_view path);

  CgroupHandle(CgroupHandle&& other) noexcept;
  CgroupHandle& operator=(CgroupHandle&& other) noexcept;
  CgroupHandle(const CgroupHandle&) = delete;
  CgroupHandle& operator=(const CgroupHandle&) = delete;
  // Best effort kill_all + remove unless released or moved from; never throws.
  ~CgroupHandle();

  // The relative path ("gctool/<id>"); empty once moved from.
  const std::string& path() const noexcept { return path_; }
  const CgroupDriver& driver() const noexcept { return *driver_; }
  int version() const noexcept { return driver_->version(); }

  // Writes the set fields of `resources` (after validate()).
  void set_resources(const Resources& resources) const;

  // Moves `pid` into the cgroup (every controller on v1).
  void add_process(pid_t pid) const;

  // The processes now in the cgroup, sorted.
  std::vector<pid_t> pids() const;

  Stats stats() const;

  // Whether the OOM killer has killed a process of this cgroup (the runtime's "OOMKilled").
  bool oom_killed() const { return driver_->oom_kills(path_) > 0; }

  // Directory fd for clone3(CLONE_INTO_CGROUP) on v2; invalid on v1.
  UniqueFd open_dir() const;

  // SIGKILLs every process until the cgroup is empty; Error(EBUSY) after the timeout.
  void kill_all(std::chrono::milliseconds timeout = kDefaultTimeout) const;

  // Removes the directory (retrying while processes drain); succeeds when already gone. The
  // destructor then has nothing left to do.
  void remove(std::chrono::milliseconds timeout = kDefaultTimeout);

  // kill_all() then remove(), for a cgroup whose container has ended: rmdir is tried first, as
  // pid 1 takes its pid namespace with it and the cgroup is almost always empty by then, and the
  // kill (a read of cgroup.procs in every hierarchy) runs only when rmdir finds it busy.
  void kill_and_remove(std::chrono::milliseconds timeout = kDefaultTimeout);

  // Keeps the cgroup: the destructor will not touch it. Returns its path.
  std::string release() noexcept;

 private:
  CgroupHandle(std::shared_ptr<const CgroupDriver> driver, std::string path) noexcept
      : driver_(std::move(driver)), path_(std::move(path)) {}
  void destroy() noexcept;

  std::shared_ptr<const CgroupDriver> driver_;
  std::string path_;
  bool owned_ = true;
};

}  // namespace gctool::cgroup
