#include "gctool/cgroup/driver.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "cgroupfs.hpp"
#include "gctool/cgroup/v1_driver.hpp"
#include "gctool/cgroup/v2_driver.hpp"
#include "gctool/core/error.hpp"

namespace gctool::cgroup {

void CgroupDriver::kill_all(std::string_view path, std::chrono::milliseconds timeout) const {
  const auto deadline = detail::Clock::now() + timeout;
  // Repeat: a process may fork between reading cgroup.procs and the kill, and the new child
  // only shows up on the next read. Without a freezer, looping until empty is what stops it.
  for (;;) {
    const auto pids = this->pids(path);
    if (pids.empty()) {
      return;
    }
    for (const pid_t pid : pids) {
      if (pid == ::getpid()) {
        throw Error(EDEADLK,
                    fmt::format("kill processes of cgroup \"{}\": it holds the caller", path));
      }
      if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) {
        throw_errno("kill process {} of cgroup \"{}\"", pid, path);
      }
    }
    if (detail::Clock::now() >= deadline) {
      throw Error(EBUSY, fmt::format("kill processes of cgroup \"{}\": {} still running", path,
                                     pids.size()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::shared_ptr<const CgroupDriver> make_driver(const CgroupLayout& layout) {
  if (layout.mode == CgroupMode::unified) {
    return std::make_shared<V2Driver>(layout.unified_mount);
  }
  return std::make_shared<V1Driver>(layout.controllers);
}

std::shared_ptr<const CgroupDriver> host_driver() {
  // Made once, as the layout it reads: `ps` asks for it for every running container.
  static const std::shared_ptr<const CgroupDriver> driver = make_driver(host_layout());
  return driver;
}

std::string normalize_path(std::string_view path) {
  std::string out;
  std::string_view rest = path;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (part.empty()) {
      continue;
    }
    if (part == "." || part == "..") {
      throw_invalid("invalid cgroup path \"{}\": \".\" and \"..\" are not allowed", path);
    }
    if (!out.empty()) {
      out += '/';
    }
    out += part;
  }
  if (out.empty()) {
    throw_invalid("invalid cgroup path \"{}\": it names the root", path);
  }
  return out;
}

std::string container_cgroup_path(std::string_view container_id, std::string_view parent) {
  if (container_id.empty() || container_id.find('/') != std::string_view::npos) {
    throw_invalid("invalid container id \"{}\" for a cgroup name", container_id);
  }
  return normalize_path(fmt::format("{}/{}", parent, container_id));
}

}  // namespace gctool::cgroup
