// `gctool push [-q] NAME[:TAG]` (alias `image push`): an image of the store to the registry its
// name says. Prints Docker's lines and the pushed manifest's digest; failures are one line and
// exit code 1.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/registry/push.hpp"
#include "image_events.hpp"
#include "image_group.hpp"
#include "pull_output.hpp"

namespace gctool::tool {
namespace {

struct PushCliOptions {
  std::string name;
  bool quiet = false;
  RegistryCliOptions registry;
};

void run_push(Globals& globals, const PushCliOptions& o) {
  try {
    const auto ref = registry::parse_remote_reference(o.name);
    if (!o.quiet) {
      fmt::print("The push refers to repository [{}/{}]\n", ref.domain, ref.repository);
      std::fflush(stdout);
    }
    const image::ImageStore store(globals.root);
    registry::PushOptions options;
    options.client = o.registry.client();
    if (!o.quiet) {
      options.progress = [](const std::string& id, const std::string& status) {
        fmt::print("{}: {}\n", id, status);
        std::fflush(stdout);
      };
    }
    const auto result = registry::push(store, ref, options);
    record_image_event(globals, "push", ref.full(), ref.familiar_name());
    if (o.quiet) {
      fmt::print("{}\n", result.digest);
    } else {
      fmt::print("{}: digest: {} size: {}\n", ref.tag, result.digest, result.size);
    }
  } catch (const Error& e) {
    std::fflush(stdout);
    print_error(e.what());
    globals.exit_code = 1;
  }
}

void add_push_options(CLI::App* cmd, Globals& globals) {
  auto o = std::make_shared<PushCliOptions>();
  cmd->add_option("NAME", o->name, "NAME[:TAG]")->required();
  cmd->add_flag("-q,--quiet", o->quiet, "Print the digest alone");
  add_registry_options(cmd, o->registry);
  cmd->callback([&globals, o] { run_push(globals, *o); });
}

void setup_push(CLI::App& app, Globals& globals) {
  add_push_options(app.add_subcommand("push", "Upload an image to a registry"), globals);
  add_push_options(image_group(app)->add_subcommand("push", "Upload an image to a registry"),
                   globals);
}

GCTOOL_REGISTER_COMMAND(setup_push, "push", "image");

}  // namespace
}  // namespace gctool::tool
