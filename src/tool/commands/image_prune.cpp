// `gctool image prune [-a] [-f]`: removes the dangling images, or with -a every image no
// container uses.
#include <memory>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/prune.hpp"
#include "image_group.hpp"
#include "prune_output.hpp"

namespace gctool::tool {
namespace {

struct ImagePruneArgs {
  bool all = false;
  bool force = false;
};

void setup_image_prune(CLI::App& app, Globals& globals) {
  auto* prune = image_group(app)->add_subcommand("prune", "Remove unused images");
  auto args = std::make_shared<ImagePruneArgs>();
  prune->add_flag("-a,--all", args->all, "Remove all unused images, not just dangling ones");
  prune->add_flag("-f,--force", args->force, "Do not prompt for confirmation");
  prune->callback([args, &globals] {
    if (!confirmed(args->force, args->all
                                    ? "This will remove all images without at least one container "
                                      "associated to them."
                                    : "This will remove all dangling images.")) {
      return;
    }
    image::ImageStore images(globals.root);
    print_reports(
        {report(container::prune_images(open_container_store(globals), images, args->all))});
  });
}

GCTOOL_REGISTER_COMMAND(setup_image_prune, "image");

}  // namespace
}  // namespace gctool::tool
