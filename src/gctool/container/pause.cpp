#include "gctool/container/pause.hpp"

#include "gctool/cgroup/driver.hpp"
#include "gctool/container/events.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"

namespace gctool::container {

void pause_container(const ContainerStore& store, std::string_view ref) {
  const Record record = inspect_container(store, ref);
  if (!record.running()) {
    throw_invalid("container {} is not running", ref);
  }
  if (record.state.paused) {
    throw_invalid("container {} is already paused", ref);
  }
  cgroup::host_driver()->freeze(record.cgroup_path, true);
  record_container_event(store, record, "pause");
}

void unpause_container(const ContainerStore& store, std::string_view ref) {
  const Record record = inspect_container(store, ref);
  if (!record.running() || !record.state.paused) {
    throw_invalid("container {} is not paused", ref);
  }
  cgroup::host_driver()->freeze(record.cgroup_path, false);
  record_container_event(store, record, "unpause");
}

void thaw_if_paused(const Record& record) {
  if (record.state.paused) {
    cgroup::host_driver()->freeze(record.cgroup_path, false);
  }
}

}  // namespace gctool::container
