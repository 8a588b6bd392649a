// `gctool diff CONTAINER`: the files and directories the container added (A), changed (C) or
// deleted (D), as `docker diff` lists them.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/diff.hpp"

namespace gctool::tool {
namespace {

void setup_diff(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand(
      "diff", "Inspect changes to files or directories on a container's filesystem");
  auto ref = std::make_shared<std::string>();
  cmd->add_option("CONTAINER", *ref, "Container name or ID")->required();
  cmd->callback([ref, &globals] {
    for (const auto& change : container::diff_container(open_container_store(globals), *ref)) {
      fmt::print("{} {}\n", change.kind, change.path);
    }
  });
}

GCTOOL_REGISTER_COMMAND(setup_diff, "diff");

}  // namespace
}  // namespace gctool::tool
