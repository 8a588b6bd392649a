// `gctool rename CONTAINER NEW_NAME`: gives a container, running or not, a new name.
#include <memory>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/rename.hpp"

namespace gctool::tool {
namespace {

struct RenameArgs {
  std::string container;
  std::string name;
};

void setup_rename(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("rename", "Rename a container");
  auto args = std::make_shared<RenameArgs>();
  cmd->add_option("CONTAINER", args->container, "Container name or ID")->required();
  cmd->add_option("NEW_NAME", args->name, "The container's new name")->required();
  cmd->callback([args, &globals] {
    with_daemon_exit_code(globals, [&] {
      container::rename_container(open_container_store(globals), args->container, args->name);
    });
  });
}

GCTOOL_REGISTER_COMMAND(setup_rename, "rename");

}  // namespace
}  // namespace gctool::tool
