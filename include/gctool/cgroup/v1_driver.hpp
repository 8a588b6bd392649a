// The cgroup v1 driver: one directory per hierarchy for the controllers a container needs
// (memory, cpu, cpuacct, cpuset, pids); the others are left alone.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gctool/cgroup/driver.hpp"

namespace gctool::cgroup {

class V1Driver final : public CgroupDriver {
 public:
  // mounts: controller name -> mount point (CgroupLayout::controllers, or a fake tree in tests).
  // Controllers other than the ones above are ignored; missing ones fail only when needed.
  explicit V1Driver(std::map<std::string, std::filesystem::path> mounts);

  // The mount points in use, one per hierarchy (co-mounted controllers share one).
  std::vector<std::filesystem::path> hierarchies() const;

  int version() const noexcept override { return 1; }
  void create(std::string_view path, const Resources& resources) const override;
  std::vector<std::string> check_supported(const Resources& resources) const override;
  void apply(std::string_view path, const Resources& resources) const override;
  void add_process(std::string_view path, pid_t pid) const override;
  std::vector<pid_t> pids(std::string_view path) const override;
  Stats stats(std::string_view path) const override;
  std::uint64_t oom_kills(std::string_view path) const override;
  bool exists(std::string_view path) const override;
  UniqueFd open_dir(std::string_view path) const override;
  void freeze(std::string_view path, bool frozen, std::chrono::milliseconds timeout) const override;
  bool frozen(std::string_view path) const override;
  // Thaws a paused cgroup first: a frozen process cannot die of SIGKILL.
  void kill_all(std::string_view path, std::chrono::milliseconds timeout) const override;
  // The freezer cgroup of a container that was paused goes too.
  void remove(std::string_view path, std::chrono::milliseconds timeout) const override;

 private:
  // The directory of `path` in the controller's hierarchy; throws ENOTSUP when not mounted.
  std::filesystem::path dir(const std::string& controller, std::string_view path) const;
  bool has(const std::string& controller) const { return mounts_.count(controller) != 0; }

  std::map<std::string, std::filesystem::path> mounts_;
  std::optional<std::filesystem::path> freezer_;  // the freezer's mount point, used by pause
};

}  // namespace gctool::cgroup
