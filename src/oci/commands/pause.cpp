// `gctool-oci pause ID` and `resume ID`: freeze and thaw the container's cgroup.
#include <memory>

#include "../cgroup_setup.hpp"
#include "../command.hpp"
#include "../state.hpp"
#include "gctool/core/error.hpp"

namespace gctool::oci {
namespace {

void set_paused(const Globals& globals, const std::string& id, bool paused) {
  const auto state = load_state(globals.root, id);
  const auto status = status_of(globals.root, state);
  if (status != (paused ? "running" : "paused")) {
    throw_invalid("container \"{}\" is {}, not {}", id, status, paused ? "running" : "paused");
  }
  freeze_cgroup(state.cgroup_path, paused);
}

void setup_pause(CLI::App& app, Globals& globals) {
  for (const bool paused : {true, false}) {
    auto* cmd = app.add_subcommand(
        paused ? "pause" : "resume",
        paused ? "Freeze every process of a container" : "Thaw a paused container");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Container ID")->required();
    cmd->callback([id, paused, &globals] { set_paused(globals, *id, paused); });
  }
}

GCTOOL_OCI_COMMAND(setup_pause);

}  // namespace
}  // namespace gctool::oci
