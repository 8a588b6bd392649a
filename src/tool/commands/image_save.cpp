// `gctool image save [-o FILE] IMAGE...` (alias `save`): a docker-archive on stdout or in FILE.
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "command.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/save.hpp"
#include "image_group.hpp"

namespace gctool::tool {
namespace {

struct SaveOptions {
  std::string output;
  std::vector<std::string> images;
};

void run_save(const Globals& globals, const SaveOptions& opts) {
  const image::ImageStore store(globals.root);
  if (opts.output.empty() || opts.output == "-") {
    if (::isatty(1)) {
      throw_invalid("refusing to write an archive to a terminal; use -o FILE or redirect stdout");
    }
    image::save_images(store, opts.images, BorrowedFd(1));
    return;
  }
  // Written beside the target and renamed, so a failed save leaves no half archive behind.
  const std::string tmp = opts.output + ".tmp";
  UniqueFd file(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!file) {
    throw_errno("create \"{}\"", tmp);
  }
  try {
    image::save_images(store, opts.images, file);
    check(::fsync(file.get()), "fsync \"{}\"", tmp);
    check(::rename(tmp.c_str(), opts.output.c_str()), "rename \"{}\"", tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
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

GCTOOL_REGISTER_COMMAND(setup_image_save);

}  // namespace
}  // namespace gctool::tool
