// `gctool volume create|ls|inspect|rm|prune`: named volumes, as Docker's verbs.
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "container_store.hpp"
#include "filters.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/volume.hpp"
#include "list_format.hpp"
#include "prune_output.hpp"

namespace gctool::tool {
namespace {

struct VolumeArgs {
  std::string name;
  std::vector<std::string> names;
  bool quiet = false;
  bool force = false;
  bool all = false;
  std::vector<std::string> filters;
  std::string format;
};

const ListColumns kColumns{"table {{.Driver}}\t{{.Name}}",
                           {{"Name", "VOLUME NAME"},
                            {"Driver", "DRIVER"},
                            {"Scope", "SCOPE"},
                            {"Mountpoint", "MOUNTPOINT"},
                            {"Labels", "LABELS"},
                            {"Links", "LINKS"},
                            {"Size", "SIZE"},
                            {"CreatedAt", "CREATED AT"}}};

// Volumes some container (running or not) refers to.
std::set<std::string> volumes_in_use(const Globals& globals) {
  std::set<std::string> used;
  const auto store = open_container_store(globals);
  for (const auto& r : container::list_containers(store)) {
    for (const auto& b : r.spec.binds) {
      if (!b.volume.empty()) {
        used.insert(b.volume);
      }
    }
  }
  return used;
}

void list_volumes(const Globals& globals, const VolumeArgs& args) {
  const auto filters = parse_filters(args.filters, {"dangling", "driver", "label", "name"});
  for (const auto& v : filter_values(filters, "dangling")) {
    if (v != "true" && v != "false" && v != "1" && v != "0") {
      throw_invalid("invalid filter 'dangling={}'", v);
    }
  }
  if (!args.quiet && !args.format.empty()) {
    render_list(args.format, kColumns, {});
  }
  const auto used =
      filters.count("dangling") > 0 ? volumes_in_use(globals) : std::set<std::string>();
  std::vector<nlohmann::json> rows;
  for (const auto& v : container::list_volumes(globals.root)) {
    const bool ok =
        filter_accepts(
            filters, "dangling",
            [&](const auto& f) { return (f == "true" || f == "1") != used.contains(v.name); }) &&
        filter_accepts(filters, "driver", [&](const auto& f) { return f == "local"; }) &&
        // gctool's volumes have no labels yet.
        filter_accepts(filters, "label", [&](const auto&) { return false; }) &&
        filter_accepts(filters, "name", [&](const auto& f) { return filter_match(f, v.name); });
    if (!ok) {
      continue;
    }
    if (args.quiet) {
      fmt::print("{}\n", v.name);
      continue;
    }
    rows.push_back({{"Name", v.name},
                    {"Driver", "local"},
                    {"Scope", "local"},
                    {"Mountpoint", v.mountpoint.string()},
                    {"Labels", ""},
                    {"Links", "N/A"},
                    {"Size", "N/A"},
                    {"CreatedAt", v.created_at}});
  }
  if (!args.quiet) {
    fmt::print("{}", render_list(args.format, kColumns, rows));
  }
}

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
  ls->add_option("-f,--filter", args->filters, "Filter output: dangling, driver, label, name")
      ->allow_extra_args(false);
  ls->add_option("--format", args->format,
                 "Output format: table, table TEMPLATE, json or a Go template");
  ls->callback([args, &globals] { list_volumes(globals, *args); });

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

  auto* prune = volume->add_subcommand("prune", "Remove unused local volumes");
  prune->add_flag("-a,--all", args->all, "Remove all unused volumes, not just anonymous ones");
  prune->add_flag("-f,--force", args->force, "Do not prompt for confirmation");
  prune->callback([args, &globals] {
    if (!confirmed(args->force, args->all ? "This will remove all local volumes not used by at "
                                            "least one container."
                                          : "This will remove anonymous local volumes not used "
                                            "by at least one container.")) {
      return;
    }
    print_reports({report(container::prune_volumes(open_container_store(globals), args->all))});
  });
}

GCTOOL_REGISTER_COMMAND(setup_volume, "volume");

}  // namespace
}  // namespace gctool::tool
