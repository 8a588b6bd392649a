// `gctool system prune [-a] [--volumes] [-f]` and `gctool system df [-v]`: what stopped
// containers, unused networks, images and volumes take, and their removal, as Docker's.
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "command_group.hpp"
#include "container_columns.hpp"
#include "container_store.hpp"
#include "gctool/container/prune.hpp"
#include "gctool/container/volume.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/net/network.hpp"
#include "prune_output.hpp"
#include "table.hpp"

namespace gctool::tool {
namespace {

struct SystemArgs {
  bool all = false;
  bool volumes = false;
  bool force = false;
  bool verbose = false;
};

std::string warning(const SystemArgs& args) {
  std::string text =
      "This will remove:\n  - all stopped containers\n"
      "  - all networks not used by at least one container\n";
  if (args.volumes) {
    text += "  - all anonymous volumes not used by at least one container\n";
  }
  text += args.all ? "  - all images without at least one container associated to them\n"
                   : "  - all dangling images\n";
  return text;
}

void prune(const Globals& globals, const SystemArgs& args) {
  if (!confirmed(args.force, warning(args))) {
    return;
  }
  const auto store = open_container_store(globals);
  std::vector<PruneReport> reports;
  reports.push_back(report(container::prune_containers(store)));
  reports.push_back({removed_list("Deleted Networks", net::prune_networks(globals.root)), 0});
  if (args.volumes) {
    reports.push_back(report(container::prune_volumes(store, false)));
  }
  image::ImageStore images(globals.root);
  reports.push_back(report(container::prune_images(store, images, args.all)));
  print_reports(reports);
}

// "1.2MB (50%)", as Docker's RECLAIMABLE column.
std::string reclaimable(const container::DiskUsage& usage) {
  if (usage.size == 0) {
    return human_size(usage.reclaimable);
  }
  return fmt::format("{} ({}%)", human_size(usage.reclaimable),
                     usage.reclaimable * 100 / usage.size);
}

// Docker's `system df -v`: a table of images, one of containers, one of volumes, then the build
// cache (gctool keeps none).
void print_verbose(const Globals& globals, const container::SystemDiskUsage& usage) {
  const auto now = std::chrono::system_clock::now();
  const auto since = [&](const std::string& when) {
    return when.empty() ? std::string("N/A") : ago(when, now) + " ago";
  };
  std::vector<std::vector<std::string>> images{{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE",
                                                "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"}};
  for (const auto& row : usage.image_rows) {
    auto tags = row.image.repo_tags;
    if (tags.empty()) {
      tags.push_back("<none>:<none>");
    }
    for (const auto& tag : tags) {
      const auto colon = tag.rfind(':');
      images.push_back({tag.substr(0, colon), tag.substr(colon + 1), row.image.short_id(),
                        since(row.image.created), human_size(row.shared + row.unique),
                        human_size(row.shared), human_size(row.unique),
                        std::to_string(row.containers)});
    }
  }
  fmt::print("Images space usage:\n\n");
  print_table(images);
  std::vector<std::vector<std::string>> containers{
      {"CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"}};
  for (const auto& row : usage.container_rows) {
    const auto& r = row.record;
    containers.push_back({short_id(r.id), r.spec.image_ref, command_text(r, false),
                          std::to_string(row.local_volumes), human_size(row.size), since(r.created),
                          status_text(globals.root, r, now), r.name});
  }
  fmt::print("\nContainers space usage:\n\n");
  print_table(containers);
  std::vector<std::vector<std::string>> volumes{{"VOLUME NAME", "LINKS", "SIZE"}};
  for (const auto& row : usage.volume_rows) {
    volumes.push_back({row.name, std::to_string(row.links), human_size(row.size)});
  }
  fmt::print("\nLocal Volumes space usage:\n\n");
  print_table(volumes);
  fmt::print("\nBuild cache usage: 0B\n\n");
  print_table({{"CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"}});
}

void df(const Globals& globals, const SystemArgs& args) {
  const auto store = open_container_store(globals);
  const image::ImageStore images(globals.root);
  const auto usage = container::disk_usage(store, images);
  if (args.verbose) {
    print_verbose(globals, usage);
    return;
  }
  std::vector<std::vector<std::string>> rows{{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}};
  const auto row = [&](const char* type, const container::DiskUsage& u) {
    rows.push_back({type, std::to_string(u.total), std::to_string(u.active), human_size(u.size),
                    reclaimable(u)});
  };
  row("Images", usage.images);
  row("Containers", usage.containers);
  row("Local Volumes", usage.volumes);
  rows.push_back({"Build Cache", "0", "0", "0B", "0B"});
  print_table(rows);
}

void setup_system(CLI::App& app, Globals& globals) {
  auto* system = command_group(app, "system", "Manage gctool");
  auto args = std::make_shared<SystemArgs>();
  auto* prune_cmd = system->add_subcommand("prune", "Remove unused data");
  prune_cmd->add_flag("-a,--all", args->all, "Remove all unused images not just dangling ones");
  prune_cmd->add_flag("--volumes", args->volumes, "Prune anonymous volumes");
  prune_cmd->add_flag("-f,--force", args->force, "Do not prompt for confirmation");
  prune_cmd->callback([args, &globals] { prune(globals, *args); });
  auto* df_cmd = system->add_subcommand("df", "Show gctool disk usage");
  df_cmd->add_flag("-v,--verbose", args->verbose, "Show the space each part uses");
  df_cmd->callback([args, &globals] { df(globals, *args); });
}

GCTOOL_REGISTER_COMMAND(setup_system, "system");

}  // namespace
}  // namespace gctool::tool
