// `gctool port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports of a container, as
// `docker port` lists them, from its record.
#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"

namespace gctool::tool {
namespace {

struct PortArgs {
  std::string container;
  std::string filter;
};

void port(const Globals& globals, const PortArgs& args) {
  const auto store = open_container_store(globals);
  const auto record = container::inspect_container(store, args.container);
  bool found = false;
  if (record.network) {
    for (const auto& p : record.network->ports) {
      const auto private_port = fmt::format("{}/{}", p.container_port, net::to_string(p.protocol));
      if (!args.filter.empty() && args.filter != private_port &&
          args.filter != std::to_string(p.container_port)) {
        continue;
      }
      found = true;
      const auto host =
          fmt::format("{}:{}", p.host_ip ? net::to_string(*p.host_ip) : "0.0.0.0", p.host_port);
      if (args.filter.empty()) {
        fmt::print("{} -> {}\n", private_port, host);
      } else {
        fmt::print("{}\n", host);
      }
    }
  }
  if (!found && !args.filter.empty()) {
    throw_invalid("no public port '{}' published for {}", args.filter, args.container);
  }
}

void setup_port(CLI::App& app, Globals& globals) {
  auto args = std::make_shared<PortArgs>();
  auto* cmd = app.add_subcommand("port", "List port mappings of a container");
  cmd->add_option("CONTAINER", args->container, "Container name or ID")->required();
  cmd->add_option("PRIVATE_PORT", args->filter, "Only this container port, e.g. 80/tcp");
  cmd->callback([args, &globals] { port(globals, *args); });
}

GCTOOL_REGISTER_COMMAND(setup_port, "port");

}  // namespace
}  // namespace gctool::tool
