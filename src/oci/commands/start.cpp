// `gctool-oci start ID`: the created container's process executes its command.
#include <memory>

#include "../command.hpp"
#include "../container.hpp"

namespace gctool::oci {
namespace {

void setup_start(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("start", "Start a created container");
  auto id = std::make_shared<std::string>();
  cmd->add_option("id", *id, "Container ID")->required();
  cmd->callback([id, &globals] { start_container(globals.root, load_state(globals.root, *id)); });
}

GCTOOL_OCI_COMMAND(setup_start);

}  // namespace
}  // namespace gctool::oci
