#include "gctool/container/update.hpp"

#include "gctool/cgroup/driver.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"

namespace gctool::container {
namespace {

// The container's limits with the update's fields laid over them.
cgroup::Resources merged(cgroup::Resources current, const cgroup::Resources& update) {
  // Each field the update sets replaces the container's.
  const auto take = [](auto& field, const auto& given) {
    if (given) {
      field = given;
    }
  };
  take(current.memory_bytes, update.memory_bytes);
  take(current.memory_swap, update.memory_swap);
  take(current.memory_reservation, update.memory_reservation);
  take(current.nano_cpus, update.nano_cpus);
  take(current.cpu_shares, update.cpu_shares);
  take(current.cpu_period, update.cpu_period);
  take(current.cpu_quota, update.cpu_quota);
  take(current.cpuset_cpus, update.cpuset_cpus);
  take(current.cpuset_mems, update.cpuset_mems);
  take(current.blkio_weight, update.blkio_weight);
  if (update.pids_limit) {
    current.pids_limit = *update.pids_limit > 0 ? update.pids_limit : std::nullopt;
  }
  return current;
}

}  // namespace

std::string update_container(const ContainerStore& store, std::string_view ref,
                             const ContainerUpdate& update) {
  // Reconciled first, so that "running" below is what the kernel says.
  const Record seen = inspect_container(store, ref);
  const auto lock = store.lock();
  auto record = store.load(seen.id);
  if (!record) {
    throw_invalid("no such container: {}", ref);
  }
  if (update.restart && update.restart->mode != RestartPolicy::Mode::no &&
      record->spec.auto_remove) {
    throw_invalid(
        "Restart policy cannot be updated because AutoRemove is enabled for the container");
  }
  const auto resources = merged(record->spec.resources, update.resources);
  cgroup::validate(resources);
  if (resources != record->spec.resources) {
    if (seen.running() && !record->cgroup_path.empty()) {
      // Only the fields given. No limit on pids is the kernel's largest, PID_MAX_LIMIT: a
      // count the cgroup cannot reach.
      auto live = update.resources;
      if (live.pids_limit && *live.pids_limit <= 0) {
        live.pids_limit = 4194304;
      }
      // Memory and memory+swap are written together, in the order the kernel accepts.
      if (live.memory_bytes || live.memory_swap) {
        live.memory_bytes = resources.memory_bytes;
        live.memory_swap = resources.memory_swap;
      }
      // v2 keeps period and quota in one file (cpu.max): the pair goes together.
      if (live.cpu_period || live.cpu_quota) {
        live.cpu_period = resources.cpu_period;
        live.cpu_quota = resources.cpu_quota;
      }
      cgroup::host_driver()->apply(record->cgroup_path, live);
    }
    record->spec.resources = resources;
    store.save(*record, Durability::durable);
  }
  if (update.restart) {
    const auto dir = store.dir(record->id);
    auto options = load_supervisor_options(dir);
    options.restart = *update.restart;
    save_supervisor_options(dir, options);
  }
  return record->id;
}

}  // namespace gctool::container
