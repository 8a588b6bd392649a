// `gctool pause CONTAINER...`: pause all processes within one or more containers, printing each
// name or ID as given.
#include <memory>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/pause.hpp"

namespace gctool::tool {
namespace {

void setup_pause(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("pause", "Pause all processes within one or more containers");
  auto refs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("containers", *refs, "Container names or IDs")->required();
  cmd->callback([refs, &globals] {
    const auto store = open_container_store(globals);
    for_each_container(globals, *refs,
                       [&](const std::string& ref) { container::pause_container(store, ref); });
  });
}

GCTOOL_REGISTER_COMMAND(setup_pause, "pause");

}  // namespace
}  // namespace gctool::tool
