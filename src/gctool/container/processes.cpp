#include "gctool/container/processes.hpp"

#include "gctool/cgroup/driver.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"

namespace gctool::container {

std::vector<pid_t> container_processes(const ContainerStore& store, std::string_view ref) {
  const Record record = inspect_container(store, ref);
  if (!record.running()) {
    throw_invalid("container {} is not running", ref);
  }
  return cgroup::host_driver()->pids(record.cgroup_path);
}

}  // namespace gctool::container
