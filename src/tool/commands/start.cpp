// `gctool start CONTAINER...`: start exited containers again, with the same filesystem, each under
// a new supervisor; prints each name or ID as given.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"

namespace gctool::tool {
namespace {

void start(Globals& globals, const std::vector<std::string>& refs) {
  const auto store = open_container_store(globals);
  for_each_container(globals, refs,
                     [&](const std::string& ref) { container::start_detached(store, ref); });
}

void setup_start(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("start", "Start one or more stopped containers");
  auto refs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("containers", *refs, "Container names or IDs")->required();
  cmd->callback([refs, &globals] { start(globals, *refs); });
}

GCTOOL_REGISTER_COMMAND(setup_start);

}  // namespace
}  // namespace gctool::tool
