// `gctool image import` (alias `import`) FILE|- [REPOSITORY[:TAG]]`: a rootfs tarball becomes a
// one-layer image.
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/change.hpp"
#include "gctool/image/store.hpp"
#include "image_events.hpp"
#include "image_group.hpp"

namespace gctool::tool {
namespace {

struct ImportOptions {
  std::string file;
  std::string reference;
  std::vector<std::string> changes;
};

void run_import(const Globals& globals, const ImportOptions& opts) {
  image::ImageConfig config;
  for (const auto& change : opts.changes) {
    config = image::apply_change(std::move(config), change);
  }
  std::optional<image::Reference> ref;
  if (!opts.reference.empty()) {
    ref = image::parse_reference(opts.reference);
  }
  const UniqueFd input = open_input(opts.file);
  image::ImageStore store(globals.root);
  const auto imported = store.import_rootfs(image::fd_source(input), ref, config);
  record_image_event(globals, "import", imported.id, ref ? ref->str() : imported.id);
  fmt::print("{}\n", imported.id);
}

void add_import_options(CLI::App* cmd, Globals& globals) {
  auto opts = std::make_shared<ImportOptions>();
  cmd->add_option("file", opts->file, "Tarball to import, - for stdin")->required();
  cmd->add_option("reference", opts->reference, "REPOSITORY[:TAG] to give the image");
  cmd->add_option("-c,--change", opts->changes,
                  "Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, "
                  "LABEL, EXPOSE, STOPSIGNAL)")
      ->allow_extra_args(false);  // one instruction per -c: FILE and REFERENCE follow
  cmd->callback([&globals, opts] { run_import(globals, *opts); });
}

void setup_image_import(CLI::App& app, Globals& globals) {
  add_import_options(
      image_group(app)->add_subcommand(
          "import", "Import a rootfs tarball (plain, gzip, zstd, xz) as a one-layer image"),
      globals);
  add_import_options(app.add_subcommand("import", "Import a rootfs tarball (image import)"),
                     globals);
}

GCTOOL_REGISTER_COMMAND(setup_image_import, "image", "import");

}  // namespace
}  // namespace gctool::tool
