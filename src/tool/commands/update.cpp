// `gctool update [--cpus N] [--cpu-shares N] [--cpuset-cpus L] [--cpuset-mems L] [-m SIZE]
// [--memory-swap SIZE] [--memory-reservation SIZE] [--cpu-period N] [--cpu-quota N]
// [--blkio-weight N] [--pids-limit N] [--restart POLICY] CONTAINER...`: change the limits and
// restart policy of containers, running or not, printing each name or ID as given. The values are
// checked before any container changes.
#include <memory>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/cgroup/driver.hpp"
#include "gctool/container/update.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/units.hpp"

namespace gctool::tool {
namespace {

struct UpdateArgs {
  std::string cpus;
  std::optional<std::int64_t> cpu_shares;
  std::string cpuset_cpus;
  std::string cpuset_mems;
  std::string memory;
  std::string memory_swap;
  std::string memory_reservation;
  std::optional<std::int64_t> cpu_period;
  std::optional<std::int64_t> cpu_quota;
  std::optional<std::int64_t> blkio_weight;
  std::optional<std::int64_t> pids_limit;
  std::string restart;
  std::vector<std::string> refs;
};

container::ContainerUpdate parse(const UpdateArgs& a) {
  container::ContainerUpdate update;
  auto& r = update.resources;
  if (!a.cpus.empty()) {
    r.nano_cpus = parse_cpus(a.cpus);
  }
  r.cpu_shares = a.cpu_shares;
  if (!a.cpuset_cpus.empty()) {
    r.cpuset_cpus = a.cpuset_cpus;
  }
  if (!a.cpuset_mems.empty()) {
    r.cpuset_mems = a.cpuset_mems;
  }
  if (!a.memory.empty()) {
    r.memory_bytes = parse_memory_size(a.memory);
  }
  if (!a.memory_swap.empty()) {
    r.memory_swap = a.memory_swap == "-1" ? -1 : parse_memory_size(a.memory_swap);
  }
  if (!a.memory_reservation.empty()) {
    r.memory_reservation = parse_memory_size(a.memory_reservation);
  }
  r.cpu_period = a.cpu_period;
  r.cpu_quota = a.cpu_quota;
  // Docker: 0 leaves the weight as it is.
  if (a.blkio_weight && *a.blkio_weight != 0) {
    r.blkio_weight = a.blkio_weight;
  }
  r.pids_limit = a.pids_limit;
  if (!a.restart.empty()) {
    update.restart = container::parse_restart_policy(a.restart);
  }
  if (r == cgroup::Resources{} && !update.restart) {
    throw_invalid("You must provide one or more flags when using this command.");
  }
  // The limits alone (what the merge with each container's cannot make wrong), checked once.
  auto alone = r;
  if (alone.pids_limit && *alone.pids_limit <= 0) {
    alone.pids_limit.reset();
  }
  // --memory-swap alone is checked against each container's memory limit.
  if (!alone.memory_bytes) {
    alone.memory_swap.reset();
  }
  cgroup::validate(alone);
  for (const auto& warning : cgroup::host_driver()->check_supported(r)) {
    print_error(warning);
  }
  return update;
}

void setup_update(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("update", "Update configuration of one or more containers");
  auto a = std::make_shared<UpdateArgs>();
  cmd->add_option("--cpus", a->cpus, "Number of CPUs");
  cmd->add_option("-c,--cpu-shares", a->cpu_shares, "CPU shares (relative weight)");
  cmd->add_option("--cpuset-cpus", a->cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  cmd->add_option("--cpuset-mems", a->cpuset_mems, "MEMs in which to allow execution (0-3, 0,1)");
  cmd->add_option("-m,--memory", a->memory, "Memory limit");
  cmd->add_option("--memory-swap", a->memory_swap,
                  "Swap limit equal to memory plus swap: -1 to enable unlimited swap");
  cmd->add_option("--memory-reservation", a->memory_reservation, "Memory soft limit");
  cmd->add_option("--cpu-period", a->cpu_period,
                  "Limit CPU CFS (Completely Fair Scheduler) period");
  cmd->add_option("--cpu-quota", a->cpu_quota, "Limit CPU CFS (Completely Fair Scheduler) quota");
  cmd->add_option("--blkio-weight", a->blkio_weight,
                  "Block IO (relative weight), between 10 and 1000, or 0 to disable");
  cmd->add_option("--pids-limit", a->pids_limit,
                  "Tune container pids limit (set -1 for unlimited)");
  cmd->add_option("--restart", a->restart, "Restart policy to apply when a container exits");
  cmd->add_option("containers", a->refs, "Container names or IDs")->required();
  cmd->callback([a, &globals] {
    const auto update = parse(*a);
    const auto store = open_container_store(globals);
    for_each_container(globals, a->refs, [&](const std::string& ref) {
      container::update_container(store, ref, update);
    });
  });
}

GCTOOL_REGISTER_COMMAND(setup_update, "update");

}  // namespace
}  // namespace gctool::tool
