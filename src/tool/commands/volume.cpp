// `gctool volume create|ls|inspect|rm|prune`: named volumes, as Docker's verbs.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/volume.hpp"
#include "table.hpp"

namespace gctool::tool {
namespace {

struct VolumeArgs {
  std::string name;
  std::vector<std::string> names;
  bool quiet = false;
  bool force = false;
};

void setup_volume(CLI::App& app, Globals& globals) {
  auto args = std::make_shared<VolumeArgs>();
  auto* volume = app.add_subcommand("volume", "Manage volumes");
  volume->require_subcommand(1);

  auto* create = volume->add_subcommand("create", "Create a volume");
  create->add_option("NAME", args->name, "Volume name (default: a random one)");
  create->callback([args, &globals] {
    const auto store = open_container_store(globals);
    fmt::print("{}\n", container::create_volume(store, args->name).name);
  });

  auto* ls = volume->add_subcommand("ls", "List volumes");
  ls->alias("list");
  ls->add_flag("-q,--quiet", args->quiet, "Only display volume names");
  ls->callback([args, &globals] {
    const auto volumes = container::list_volumes(globals.root);
    if (args->quiet) {
      for (const auto& v : volumes) {
        fmt::print("{}\n", v.name);
      }
      return;
    }
    std::vector<std::vector<std::string>> rows{{"DRIVER", "VOLUME NAME"}};
    for (const auto& v : volumes) {
      rows.push_back({"local", v.name});
    }
    print_table(rows);
  });

  auto* inspect = volume->add_subcommand("inspect", "Display detailed volume information");
  inspect->add_option("NAME", args->names, "Volume names")->required();
  inspect->callback([args, &globals] {
    auto out = nlohmann::json::array();
    for (const auto& name : args->names) {
      out.push_back(container::to_json(container::find_volume(globals.root, name)));
    }
    fmt::print("{}\n", out.dump(4));
  });

  auto* rm = volume->add_subcommand("rm", "Remove volumes");
  rm->alias("remove");
  // As Docker: -f does not remove a volume in use, it only makes a missing one no error.
  rm->add_flag("-f,--force", args->force, "Do not fail on a volume that does not exist");
  rm->add_option("NAME", args->names, "Volume names")->required();
  rm->callback([args, &globals] {
    const auto store = open_container_store(globals);
    for_each_name(args->names, [&](const std::string& name) {
      if (!args->force || container::volume_exists(globals.root, name)) {
        container::remove_volume(store, name);
      }
    });
  });

  auto* prune = volume->add_subcommand("prune", "Remove volumes no container refers to");
  prune->add_flag("-f,--force", args->force, "Do not prompt for confirmation");
  prune->callback([args, &globals] {
    if (!args->force) {
      throw_invalid("volume prune removes data: confirm with -f");
    }
    const auto store = open_container_store(globals);
    fmt::print("Deleted Volumes:\n");
    for (const auto& name : container::prune_volumes(store)) {
      fmt::print("{}\n", name);
    }
  });
}

GCTOOL_REGISTER_COMMAND(setup_volume);

}  // namespace
}  // namespace gctool::tool
