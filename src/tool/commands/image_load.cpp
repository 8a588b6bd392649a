// `gctool image load [-i FILE|DIR]` (alias `load`): docker-archive or OCI layout, from a tar file,
// a directory or stdin.
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/load.hpp"
#include "image_events.hpp"
#include "image_group.hpp"
#include "progress_bar.hpp"

namespace gctool::tool {
namespace {

struct LoadCliOptions {
  std::string input = "-";
  bool quiet = false;
};

void run_load(const Globals& globals, const LoadCliOptions& opts) {
  image::ImageStore store(globals.root);
  LoadProgressBar bar(opts.quiet);
  image::LoadOptions options;
  if (bar.enabled()) {
    options.progress = [&bar](const image::LoadProgress& p) { bar.update(p); };
  }
  std::vector<image::LoadedImage> loaded;
  if (opts.input != "-" && std::filesystem::is_directory(opts.input)) {
    loaded = image::load_directory(store, opts.input, options);
  } else {
    const UniqueFd input = open_input(opts.input);
    struct stat st {};
    if (::fstat(input.get(), &st) == 0 && S_ISREG(st.st_mode)) {
      options.input_size = static_cast<std::uint64_t>(st.st_size);
    }
    loaded = image::load_archive(store, image::fd_source(input), options);
  }
  bar.clear();
  for (const auto& image : loaded) {
    record_image_event(globals, "load", image.id,
                       image.tags.empty() ? image.id : image.tags.front());
  }
  if (opts.quiet) {
    return;
  }
  for (const auto& image : loaded) {
    if (image.tags.empty()) {
      fmt::print("Loaded image ID: {}\n", image.id);
    }
    for (const auto& tag : image.tags) {
      fmt::print("Loaded image: {}\n", tag);
    }
  }
}

void add_load_options(CLI::App* cmd, Globals& globals) {
  auto opts = std::make_shared<LoadCliOptions>();
  cmd->add_option("-i,--input", opts->input,
                  "Tar archive (plain or compressed) or directory to read, - for stdin");
  cmd->add_flag("-q,--quiet", opts->quiet, "Suppress the load output");
  cmd->callback([&globals, opts] { run_load(globals, *opts); });
}

void setup_image_load(CLI::App& app, Globals& globals) {
  add_load_options(
      image_group(app)->add_subcommand("load", "Load images from a docker-archive or OCI layout"),
      globals);
  add_load_options(app.add_subcommand("load", "Load images (image load)"), globals);
}

GCTOOL_REGISTER_COMMAND(setup_image_load, "image", "load");

}  // namespace
}  // namespace gctool::tool
