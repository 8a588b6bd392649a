// `gctool container prune [-f]`: removes every stopped container.
#include <memory>

#include "command.hpp"
#include "command_group.hpp"
#include "container_store.hpp"
#include "gctool/container/prune.hpp"
#include "prune_output.hpp"

namespace gctool::tool {
namespace {

void setup_container_prune(CLI::App& app, Globals& globals) {
  auto* prune = command_group(app, "container", "Manage containers")
                    ->add_subcommand("prune", "Remove all stopped containers");
  auto force = std::make_shared<bool>(false);
  prune->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  prune->callback([force, &globals] {
    if (confirmed(*force, "This will remove all stopped containers.")) {
      print_reports({report(container::prune_containers(open_container_store(globals)))});
    }
  });
}

GCTOOL_REGISTER_COMMAND(setup_container_prune, "container");

}  // namespace
}  // namespace gctool::tool
