// `gctool-oci state ID`: the runtime spec's state object as JSON.
#include <memory>

#include <fmt/format.h>

#include "../command.hpp"
#include "../state.hpp"

namespace gctool::oci {
namespace {

void setup_state(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("state", "Print a container's state as JSON");
  auto id = std::make_shared<std::string>();
  cmd->add_option("id", *id, "Container ID")->required();
  cmd->callback([id, &globals] {
    const auto state = load_state(globals.root, *id);
    fmt::print("{}\n", state_json(state, status_of(globals.root, state)).dump(2));
  });
}

GCTOOL_OCI_COMMAND(setup_state);

}  // namespace
}  // namespace gctool::oci
