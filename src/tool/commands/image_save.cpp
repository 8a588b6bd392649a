// `gctool image save [-o FILE] IMAGE...` (alias `save`): a docker-archive on stdout or in FILE.
#include <string>
#include <vector>

#include "archive_output.hpp"
#include "command.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/save.hpp"
#include "image_events.hpp"
#include "image_group.hpp"

namespace gctool::tool {
namespace {

struct SaveOptions {
  std::string output;
  std::vector<std::string> images;
};

void run_save(const Globals& globals, const SaveOptions& opts) {
  const image::ImageStore store(globals.root);
  write_archive_output(opts.output,
                       [&](BorrowedFd out) { image::save_images(store, opts.images, out); });
  for (const auto& ref : opts.images) {
    record_image_event(globals, "save", store.resolve(ref).id, ref);
  }
}

void add_save_options(CLI::App* cmd, Globals& globals) {
  auto opts = std::make_shared<SaveOptions>();
  cmd->add_option("-o,--output", opts->output, "Write to FILE instead of stdout");
  cmd->add_option("images", opts->images, "Images to save")->required();
  cmd->callback([&globals, opts] { run_save(globals, *opts); });
}

void setup_image_save(CLI::App& app, Globals& globals) {
  add_save_options(image_group(app)->add_subcommand("save", "Save images to a docker-archive tar"),
                   globals);
  add_save_options(app.add_subcommand("save", "Save images (image save)"), globals);
}

GCTOOL_REGISTER_COMMAND(setup_image_save, "image", "save");

}  // namespace
}  // namespace gctool::tool
