// `gctool-oci update --resources FILE ID`: new cgroup limits (linux.resources JSON; "-" reads
// stdin) for a running container.
#include <iostream>
#include <iterator>
#include <memory>

#include "../cgroup_setup.hpp"
#include "../command.hpp"
#include "../state.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/json_file.hpp"

namespace gctool::oci {
namespace {

struct UpdateArgs {
  std::string id;
  std::string resources;
  std::optional<std::int64_t> pids_limit;
};

void update(const Globals& globals, const UpdateArgs& a) {
  const auto state = load_state(globals.root, a.id);
  nlohmann::json doc = nlohmann::json::object();
  if (a.resources == "-") {
    const std::string text((std::istreambuf_iterator<char>(std::cin)),
                           std::istreambuf_iterator<char>());
    doc = parse_json(text, "stdin");
  } else if (!a.resources.empty()) {
    doc = load_json(a.resources);
  }
  if (a.pids_limit) {
    doc["pids"]["limit"] = *a.pids_limit;
  }
  update_cgroup(state.cgroup_path, parse_resources(doc));
}

void setup_update(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("update", "Change a container's cgroup limits");
  auto a = std::make_shared<UpdateArgs>();
  cmd->add_option("-r,--resources", a->resources, "linux.resources JSON file (\"-\": stdin)");
  cmd->add_option("--pids-limit", a->pids_limit, "Maximum number of processes");
  cmd->add_option("id", a->id, "Container ID")->required();
  cmd->callback([a, &globals] { update(globals, *a); });
}

GCTOOL_OCI_COMMAND(setup_update);

}  // namespace
}  // namespace gctool::oci
