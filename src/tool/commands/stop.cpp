// `gctool stop [-t SECONDS] CONTAINER...`: stop running containers as `docker stop` does, printing
// each name or ID as given once it has stopped.
#include <chrono>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"
#include "multi_container.hpp"

namespace gctool::tool {
namespace {

struct StopArgs {
  std::optional<int> timeout;  // the container's --stop-timeout, else 10
  std::vector<std::string> refs;
};

void stop(Globals& globals, const StopArgs& args) {
  if (args.timeout && *args.timeout < 0) {
    throw_invalid("invalid timeout {}: must be at least 0", *args.timeout);
  }
  const auto timeout =
      args.timeout ? std::optional(std::chrono::seconds(*args.timeout)) : std::nullopt;
  const auto store = open_container_store(globals);
  report_broken_records(store);
  for_all_containers(globals, args.refs, [&](const std::string& ref) {
    container::stop_container(store, ref, timeout);
  });
}

void setup_stop(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("stop", "Stop one or more running containers");
  auto args = std::make_shared<StopArgs>();
  cmd->add_option("-t,--time", args->timeout, "Seconds to wait before killing the container");
  cmd->add_option("containers", args->refs, "Container names or IDs")->required();
  cmd->callback([args, &globals] { stop(globals, *args); });
}

GCTOOL_REGISTER_COMMAND(setup_stop, "stop");

}  // namespace
}  // namespace gctool::tool
