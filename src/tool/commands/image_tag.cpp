// `gctool image tag SOURCE TARGET` (alias `tag`): another name for an image.
#include <string>

#include "command.hpp"
#include "gctool/image/store.hpp"
#include "image_events.hpp"
#include "image_group.hpp"

namespace gctool::tool {
namespace {

struct TagOptions {
  std::string source;
  std::string target;
};

void add_tag_options(CLI::App* cmd, Globals& globals) {
  auto opts = std::make_shared<TagOptions>();
  cmd->add_option("source", opts->source, "SOURCE_IMAGE[:TAG] or id")->required();
  cmd->add_option("target", opts->target, "TARGET_IMAGE[:TAG]")->required();
  cmd->callback([&globals, opts] {
    const auto image = image::ImageStore(globals.root).tag(opts->source, opts->target);
    record_image_event(globals, "tag", image.id, image::parse_reference(opts->target).str());
  });
}

void setup_image_tag(CLI::App& app, Globals& globals) {
  add_tag_options(image_group(app)->add_subcommand("tag", "Create a tag that refers to an image"),
                  globals);
  add_tag_options(app.add_subcommand("tag", "Create a tag that refers to an image (image tag)"),
                  globals);
}

GCTOOL_REGISTER_COMMAND(setup_image_tag, "image", "tag");

}  // namespace
}  // namespace gctool::tool
