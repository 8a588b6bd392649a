// `gctool port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports of a container, from its
// network attachment.
#include <fmt/format.h>

#include "command.hpp"
#include "gctool/core/error.hpp"
#include "gctool/net/attach.hpp"

namespace gctool::tool {
namespace {

struct PortArgs {
  std::string container;
  std::string filter;
};

// By id, unique id prefix, or name.
net::Attachment find_container(const std::string& root, const std::string& what) {
  std::optional<net::Attachment> found;
  for (auto& a : net::list_attachments(root)) {
    if (a.container_id == what || a.container_name == what) {
      return a;
    }
    if (a.container_id.starts_with(what)) {
      if (found) {
        throw_invalid("container id prefix \"{}\" is ambiguous", what);
      }
      found = std::move(a);
    }
  }
  if (!found) {
    throw Error(ENOENT,
                fmt::format("no published ports: container {} not found on a network", what));
  }
  return *found;
}

void setup_port(CLI::App& app, Globals& globals) {
  auto args = std::make_shared<PortArgs>();
  auto* cmd = app.add_subcommand("port", "List port mappings of a container");
  cmd->add_option("CONTAINER", args->container, "Container name or ID")->required();
  cmd->add_option("PRIVATE_PORT", args->filter, "Only this container port, e.g. 80/tcp");
  cmd->callback([args, &globals] {
    const auto a = find_container(globals.root, args->container);
    for (const auto& p : a.ports) {
      const auto private_port = fmt::format("{}/{}", p.container_port, net::to_string(p.protocol));
      if (!args->filter.empty() && args->filter != private_port &&
          args->filter != std::to_string(p.container_port)) {
        continue;
      }
      const auto host =
          fmt::format("{}:{}", p.host_ip ? net::to_string(*p.host_ip) : "0.0.0.0", p.host_port);
      if (args->filter.empty()) {
        fmt::print("{} -> {}\n", private_port, host);
      } else {
        fmt::print("{}\n", host);
      }
    }
  });
}

GCTOOL_REGISTER_COMMAND(setup_port);

}  // namespace
}  // namespace gctool::tool
