// `gctool network create|ls|inspect|rm`: bridge networks, as Docker's verbs.
#include <algorithm>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/net/network.hpp"
#include "table.hpp"

namespace gctool::tool {
namespace {

struct NetworkArgs {
  net::CreateNetworkOptions create;
  std::string gateway;
  bool quiet = false;
  bool force = false;
  std::vector<std::string> names;
};

void setup_network(CLI::App& app, Globals& globals) {
  auto args = std::make_shared<NetworkArgs>();
  auto* network = app.add_subcommand("network", "Manage networks");
  network->require_subcommand(1);

  auto* create = network->add_subcommand("create", "Create a network");
  create->add_option("-d,--driver", args->create.driver, "Driver (bridge)")->capture_default_str();
  create->add_option("--subnet", args->create.subnet, "Subnet in CIDR form, e.g. 10.1.0.0/24")
      ->required();
  create->add_option("--gateway", args->gateway, "Gateway address (default: first host)");
  create->add_option("NAME", args->create.name, "Network name")->required();
  create->callback([args, &globals] {
    if (!args->gateway.empty()) {
      args->create.gateway = args->gateway;
    }
    const auto n = net::create_network(globals.root, args->create);
    fmt::print("{}\n", n.id);
  });

  auto* ls = network->add_subcommand("ls", "List networks");
  ls->alias("list");
  ls->add_flag("-q,--quiet", args->quiet, "Only display network IDs");
  ls->callback([args, &globals] {
    const auto networks = net::list_networks(globals.root);
    if (args->quiet) {
      for (const auto& n : networks) {
        fmt::print("{}\n", short_id(n.id));
      }
      return;
    }
    std::vector<std::vector<std::string>> rows{{"NETWORK ID", "NAME", "DRIVER", "SCOPE"}};
    for (const auto& n : networks) {
      rows.push_back({short_id(n.id), n.name, n.driver, "local"});
    }
    print_table(rows);
  });

  auto* inspect = network->add_subcommand("inspect", "Display detailed network information");
  inspect->add_option("NAME", args->names, "Network names or IDs")->required();
  inspect->callback([args, &globals] {
    auto out = nlohmann::json::array();
    for (const auto& name : args->names) {
      out.push_back(net::inspect_network(globals.root, net::find_network(globals.root, name)));
    }
    fmt::print("{}\n", out.dump(4));
  });

  auto* rm = network->add_subcommand("rm", "Remove networks");
  rm->alias("remove");
  rm->add_flag("-f,--force", args->force, "Detach containers still using the network");
  rm->add_option("NAME", args->names, "Network names or IDs")->required();
  rm->callback([args, &globals] {
    for_each_name(args->names, [&](const std::string& name) {
      net::remove_network(globals.root, name, args->force);
    });
  });
}

GCTOOL_REGISTER_COMMAND(setup_network);

}  // namespace
}  // namespace gctool::tool
