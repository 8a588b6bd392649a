// `gctool inspect [-f FORMAT] [--type T] NAME|ID...`: containers, images or networks as a JSON
// array, as `docker inspect` (looked up in that order unless --type says which).
#include <memory>
#include <optional>
#include <string>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/health.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/image/inspect.hpp"
#include "gctool/net/network.hpp"
#include "inspect_output.hpp"

namespace gctool::tool {
namespace {

struct InspectArgs {
  std::vector<std::string> refs;
  std::optional<std::string> format;
  std::string type;
};

std::optional<nlohmann::json> find_object(const Globals& globals, const std::string& ref,
                                          const std::string& type) {
  const auto wanted = [&](const char* kind) { return type.empty() || type == kind; };
  if (wanted("container")) {
    const auto store = open_container_store(globals);
    try {
      const auto record = container::inspect_container(store, ref);
      auto json = container::to_json(record);
      // Docker's HostConfig.LogConfig, from what the supervisor keeps.
      const auto log = container::load_supervisor_options(store.dir(record.id)).log;
      auto config = nlohmann::json::object();
      if (log.max_size > 0) {
        config["max-size"] = std::to_string(log.max_size);
        config["max-file"] = std::to_string(log.max_files);
      }
      json["HostConfig"]["LogConfig"] = {{"Type", container::to_string(log.driver)},
                                         {"Config", config}};
      // Docker's State.Health, as the supervisor's checks left it.
      if (container::health_enabled(record.spec.healthcheck)) {
        const auto text = try_read_file(container::health_state_path(store.dir(record.id)));
        auto health = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
        if (!health.is_object()) {
          health = {{"Status", "starting"}, {"FailingStreak", 0}, {"Log", nlohmann::json::array()}};
        }
        json["State"]["Health"] = std::move(health);
      }
      return json;
    } catch (const Error&) {
      if (!type.empty()) {
        throw;
      }
    }
  }
  if (wanted("image")) {
    const image::ImageStore store(globals.root);
    if (auto img = store.try_resolve(ref)) {
      return image::inspect_image(store, *img);
    }
  }
  if (wanted("network")) {
    if (auto network = net::try_find_network(globals.root, ref)) {
      return net::inspect_network(globals.root, *network);
    }
  }
  return std::nullopt;
}

void inspect(const InspectArgs& args, Globals& globals) {
  if (!args.type.empty() && args.type != "container" && args.type != "image" &&
      args.type != "network") {
    throw_invalid("unknown type \"{}\" (container, image or network)", args.type);
  }
  InspectOutput result;
  for (const auto& ref : args.refs) {
    try {
      if (auto object = find_object(globals, ref, args.type)) {
        result.found.push_back(std::move(*object));
      } else {
        result.errors.push_back(fmt::format("no such object: {}", ref));
      }
    } catch (const Error& e) {
      result.errors.push_back(e.what());
    }
  }
  print_inspect(result, args.format, globals);
}

void setup_inspect(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("inspect",
                                 "Display detailed information on containers, images "
                                 "and networks");
  auto args = std::make_shared<InspectArgs>();
  cmd->add_option("-f,--format", args->format, "Format the output using a Go template");
  cmd->add_option("--type", args->type, "Only look for this type: container, image, network");
  cmd->add_option("NAME", args->refs, "Container, image or network names or IDs")->required();
  cmd->callback([args, &globals] { inspect(*args, globals); });
}

GCTOOL_REGISTER_COMMAND(setup_inspect, "inspect");

}  // namespace
}  // namespace gctool::tool
