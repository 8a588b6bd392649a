// `gctool start CONTAINER...`: start exited containers again, with the same filesystem, each under
// a new supervisor; prints each name or ID as given.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"

namespace gctool::tool {
namespace {

void start(Globals& globals, const std::vector<std::string>& refs) {
  const container::ContainerStore store(globals.root);
  for (const auto& ref : refs) {
    try {
      container::start_detached(store, ref);
      fmt::print("{}\n", ref);
      std::fflush(stdout);
    } catch (const Error& e) {
      std::fflush(stdout);
      fmt::print(stderr, "gctool: {}\n", e.what());
      globals.exit_code = 1;
    }
  }
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
