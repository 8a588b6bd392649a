// `gctool restart [-t SECONDS] CONTAINER...`: stop, then start under a new supervisor; prints each
// name or ID as given.
#include <chrono>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/cgroup/migration_warmup.hpp"
#include "gctool/container/events.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"
#include "multi_container.hpp"

namespace gctool::tool {
namespace {

struct RestartArgs {
  std::optional<int> timeout;  // the container's --stop-timeout, else 10
  std::vector<std::string> refs;
};

void restart(Globals& globals, const RestartArgs& args) {
  if (args.timeout && *args.timeout < 0) {
    throw_invalid("invalid timeout {}: must be at least 0", *args.timeout);
  }
  const auto timeout =
      args.timeout ? std::optional(std::chrono::seconds(*args.timeout)) : std::nullopt;
  const auto store = open_container_store(globals);
  report_broken_records(store);
  for_all_containers(globals, args.refs, [&](const std::string& ref) {
    container::stop_container(store, ref, timeout);
    const auto warmup = cgroup::MigrationWarmup::start();
    const auto id = container::start_detached(store, ref);
    container::record_container_event(store, container::inspect_container(store, id), "restart");
  });
}

void setup_restart(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("restart", "Restart one or more containers");
  auto args = std::make_shared<RestartArgs>();
  cmd->add_option("-t,--time", args->timeout, "Seconds to wait before killing the container");
  cmd->add_option("containers", args->refs, "Container names or IDs")->required();
  cmd->callback([args, &globals] { restart(globals, *args); });
}

GCTOOL_REGISTER_COMMAND(setup_restart, "restart");

}  // namespace
}  // namespace gctool::tool
