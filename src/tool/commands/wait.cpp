// `gctool wait NAME|ID...`: block until the containers stop, then print their exit codes.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"

namespace gctool::tool {
namespace {

void wait(Globals& globals, const std::vector<std::string>& refs) {
  const auto store = open_container_store(globals);
  for (const auto& ref : refs) {
    try {
      fmt::print("{}\n", container::wait_container(store, ref));
      std::fflush(stdout);
    } catch (const Error& e) {
      print_error(e.what());
      globals.exit_code = 1;
    }
  }
}

void setup_wait(CLI::App& app, Globals& globals) {
  auto* cmd =
      app.add_subcommand("wait", "Block until containers stop, then print their exit codes");
  auto refs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("containers", *refs, "Container names or IDs")->required();
  cmd->callback([refs, &globals] { wait(globals, *refs); });
}

GCTOOL_REGISTER_COMMAND(setup_wait, "wait");

}  // namespace
}  // namespace gctool::tool
