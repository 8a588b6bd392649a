// `gctool export [-o FILE] CONTAINER`: the container's merged filesystem as a tar, on stdout or in
// FILE.
#include <memory>
#include <string>

#include "archive_output.hpp"
#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/commit.hpp"

namespace gctool::tool {
namespace {

struct ExportOptions {
  std::string container;
  std::string output;
};

void export_fs(const Globals& globals, const ExportOptions& o) {
  const auto containers = open_container_store(globals);
  const image::ImageStore images(globals.root);
  write_archive_output(o.output, [&](BorrowedFd out) {
    container::export_container(containers, images, o.container, out);
  });
}

void setup_export(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("export", "Export a container's filesystem as a tar archive");
  auto o = std::make_shared<ExportOptions>();
  cmd->add_option("-o,--output", o->output, "Write to FILE instead of stdout");
  cmd->add_option("container", o->container, "Container name or ID")->required();
  cmd->callback([o, &globals] { export_fs(globals, *o); });
}

GCTOOL_REGISTER_COMMAND(setup_export, "export");

}  // namespace
}  // namespace gctool::tool
