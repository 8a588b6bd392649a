// The cgroup v2 (unified hierarchy) driver.
#pragma once

#include <filesystem>

#include "gctool/cgroup/driver.hpp"

namespace gctool::cgroup {

class V2Driver final : public CgroupDriver {
 public:
  // root: where cgroup2 is mounted (/sys/fs/cgroup), or a fake tree in tests.
  explicit V2Driver(std::filesystem::path root = "/sys/fs/cgroup");

  const std::filesystem::path& root() const noexcept { return root_; }

  int version() const noexcept override { return 2; }
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
  void kill_all(std::string_view path, std::chrono::milliseconds timeout) const override;
  void remove(std::string_view path, std::chrono::milliseconds timeout) const override;

 private:
  std::filesystem::path dir(std::string_view path) const;

  std::filesystem::path root_;
};

}  // namespace gctool::cgroup
