// `gctool pull [-q] [--platform os/arch[/variant]] [--all-tags] NAME[:TAG|@DIGEST]` (alias
// `image pull`): an image from a registry. Failures are one line and exit code 1, as Docker's.
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "gctool/registry/client.hpp"
#include "image_events.hpp"
#include "image_group.hpp"
#include "pull_output.hpp"

namespace gctool::tool {
namespace {

struct PullCliOptions {
  std::string name;
  bool quiet = false;
  bool all_tags = false;
  RegistryCliOptions registry;
};

// The repository's tags (GET tags/list), for --all-tags.
std::vector<std::string> list_tags(const registry::RemoteReference& ref,
                                   const RegistryCliOptions& cli) {
  registry::Client client(ref, cli.client());
  client.connect();
  auto req = client.request("GET", "tags/list");
  const auto res = client.perform(req);
  if (res.status != 200) {
    throw_invalid("{}: list tags: {}", ref.familiar_name(), registry::Client::describe(res));
  }
  try {
    return nlohmann::json::parse(res.body).at("tags").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw_invalid("{}: malformed tag list: {}", ref.familiar_name(), e.what());
  }
}

void run_pull(Globals& globals, const PullCliOptions& o) {
  try {
    auto ref = registry::parse_remote_reference(o.name);
    std::vector<registry::RemoteReference> refs{ref};
    if (o.all_tags) {
      const auto colon = o.name.rfind(':');
      const auto slash = o.name.rfind('/');
      if (!ref.digest.empty() ||
          (colon != std::string::npos && (slash == std::string::npos || colon > slash))) {
        throw_invalid("tag can't be used with --all-tags/-a");
      }
      refs.clear();
      for (const auto& tag : list_tags(ref, o.registry)) {
        ref.tag = tag;
        refs.push_back(ref);
      }
    }
    for (const auto& r : refs) {
      pull_with_output(globals.root, r, o.registry, stdout, o.quiet);
      record_image_event(globals, "pull", r.full(), r.familiar_name());
      fmt::print("{}\n", r.full());
    }
  } catch (const Error& e) {
    std::fflush(stdout);
    print_error(e.what());
    globals.exit_code = 1;
  }
}

void add_pull_options(CLI::App* cmd, Globals& globals) {
  auto o = std::make_shared<PullCliOptions>();
  cmd->add_option("NAME", o->name, "NAME[:TAG|@DIGEST]")->required();
  cmd->add_flag("-q,--quiet", o->quiet, "Suppress verbose output");
  cmd->add_flag("-a,--all-tags", o->all_tags, "Download all tagged images in the repository");
  cmd->add_option("--platform", o->registry.platform, "os/arch[/variant] (default: this machine)");
  add_registry_options(cmd, o->registry);
  cmd->callback([&globals, o] { run_pull(globals, *o); });
}

void setup_pull(CLI::App& app, Globals& globals) {
  add_pull_options(app.add_subcommand("pull", "Download an image from a registry"), globals);
  add_pull_options(image_group(app)->add_subcommand("pull", "Download an image from a registry"),
                   globals);
}

GCTOOL_REGISTER_COMMAND(setup_pull, "pull", "image");

}  // namespace
}  // namespace gctool::tool
