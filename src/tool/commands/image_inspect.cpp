// `gctool image inspect [-f FORMAT] IMAGE...`: Docker's image JSON.
#include <memory>
#include <optional>
#include <string>

#include "command.hpp"
#include "gctool/image/inspect.hpp"
#include "image_group.hpp"
#include "inspect_output.hpp"

namespace gctool::tool {
namespace {

struct ImageInspectArgs {
  std::vector<std::string> refs;
  std::optional<std::string> format;
};

void setup_image_inspect(CLI::App& app, Globals& globals) {
  auto* cmd = image_group(app)->add_subcommand("inspect", "Display detailed information on images");
  auto args = std::make_shared<ImageInspectArgs>();
  cmd->add_option("-f,--format", args->format, "Format the output using a Go template");
  cmd->add_option("IMAGE", args->refs, "Image names or IDs")->required();
  cmd->callback([args, &globals] {
    const image::ImageStore store(globals.root);
    InspectOutput result;
    for (const auto& ref : args->refs) {
      if (auto img = store.try_resolve(ref)) {
        result.found.push_back(image::inspect_image(store, *img));
      } else {
        result.errors.push_back(fmt::format("no such image: {}", ref));
      }
    }
    print_inspect(result, args->format, globals);
  });
}

GCTOOL_REGISTER_COMMAND(setup_image_inspect, "image");

}  // namespace
}  // namespace gctool::tool
