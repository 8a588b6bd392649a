// `gctool inspect NAME|ID...`: the containers' records as a JSON array, as `docker inspect`.
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"

namespace gctool::tool {
namespace {

void inspect(const Globals& globals, const std::vector<std::string>& refs, Globals& out) {
  const container::ContainerStore store(globals.root);
  auto result = nlohmann::json::array();
  std::string errors;
  for (const auto& ref : refs) {
    try {
      result.push_back(container::to_json(container::inspect_container(store, ref)));
    } catch (const Error& e) {
      errors += fmt::format("gctool: {}\n", e.what());
    }
  }
  fmt::print("{}\n", result.dump(4));
  if (!errors.empty()) {
    std::fflush(stdout);
    fmt::print(stderr, "{}", errors);
    out.exit_code = 1;
  }
}

void setup_inspect(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("inspect", "Display detailed information on containers");
  auto refs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("containers", *refs, "Container names or IDs")->required();
  cmd->callback([refs, &globals] { inspect(globals, *refs, globals); });
}

GCTOOL_REGISTER_COMMAND(setup_inspect);

}  // namespace
}  // namespace gctool::tool
