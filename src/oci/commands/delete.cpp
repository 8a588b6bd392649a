// `gctool-oci delete [--force] ID`: remove a stopped (or with --force any) container.
#include <memory>

#include "../command.hpp"
#include "../container.hpp"

namespace gctool::oci {
namespace {

struct DeleteArgs {
  std::string id;
  bool force = false;
};

void setup_delete(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("delete", "Delete a container");
  auto a = std::make_shared<DeleteArgs>();
  cmd->add_flag("-f,--force", a->force, "Kill the container first if it runs");
  cmd->add_option("id", a->id, "Container ID")->required();
  cmd->callback([a, &globals] { delete_container(globals.root, a->id, a->force); });
}

GCTOOL_OCI_COMMAND(setup_delete);

}  // namespace
}  // namespace gctool::oci
