// `gctool image rm [-f] IMAGE...` (alias `rmi`): untags, removes images and the layers no image
// uses any more. Every image is tried; each failure is reported and the exit code is 125.
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/prune.hpp"
#include "gctool/core/error.hpp"
#include "gctool/image/store.hpp"
#include "image_events.hpp"
#include "image_group.hpp"

namespace gctool::tool {
namespace {

struct RmOptions {
  bool force = false;
  std::vector<std::string> images;
};

void run_rm(Globals& globals, const RmOptions& opts) {
  image::ImageStore store(globals.root);
  const auto containers = open_container_store(globals);
  for (const auto& ref : opts.images) {
    try {
      const auto image = store.try_resolve(ref);
      const auto result = store.remove(ref, opts.force, container::image_users(containers));
      for (const auto& tag : result.untagged) {
        record_image_event(globals, "untag", image ? image->id : tag, tag);
      }
      for (const auto& id : result.deleted) {
        record_image_event(globals, "delete", id, id);
      }
      for (const auto& tag : result.untagged) {
        fmt::print("Untagged: {}\n", tag);
      }
      for (const auto& id : result.deleted) {
        fmt::print("Deleted: {}\n", id);
      }
    } catch (const Error& e) {
      std::fflush(stdout);
      print_error(e.what());
      globals.exit_code = kExitToolError;
    }
  }
}

void add_rm_options(CLI::App* cmd, Globals& globals) {
  auto opts = std::make_shared<RmOptions>();
  cmd->add_flag("-f,--force", opts->force, "Remove even if tagged several times or used");
  cmd->add_option("images", opts->images, "Images to remove")->required();
  cmd->callback([&globals, opts] { run_rm(globals, *opts); });
}

void setup_image_rm(CLI::App& app, Globals& globals) {
  add_rm_options(image_group(app)->add_subcommand("rm", "Remove images")->alias("remove"), globals);
  add_rm_options(app.add_subcommand("rmi", "Remove images (image rm)"), globals);
}

GCTOOL_REGISTER_COMMAND(setup_image_rm, "image", "rmi");

}  // namespace
}  // namespace gctool::tool
