// `gctool version`: the version and the libraries it was built with.
#include <fmt/format.h>

#include "command.hpp"

namespace gctool::tool {
namespace {

void setup_version(CLI::App& app, Globals&) {
  auto* cmd = app.add_subcommand("version", "Show the gctool version");
  cmd->callback([] { fmt::print("gctool version {}\n", GCTOOL_VERSION); });
}

GCTOOL_REGISTER_COMMAND(setup_version, "version");

}  // namespace
}  // namespace gctool::tool
