// `gctool network create|ls|inspect|rm`: bridge networks, as Docker's verbs.
#include <algorithm>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/net/network.hpp"

namespace gctool::tool {
namespace {

struct NetworkArgs {
  net::CreateNetworkOptions create;
  std::string gateway;
  bool quiet = false;
  bool force = false;
  std::vector<std::string> names;
};

// Left-aligned columns three spaces apart, as Docker's tabwriter prints them.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}", row[i], widths[i] + 3);
    }
    fmt::print("{}\n", line);
  }
}

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
    // Like docker: remove every network that can be, then report the first failure.
    std::optional<Error> failure;
    for (const auto& name : args->names) {
      try {
        net::remove_network(globals.root, name, args->force);
        fmt::print("{}\n", name);
      } catch (const Error& e) {
        if (!failure) {
          failure = e;
        }
      }
    }
    if (failure) {
      throw *failure;
    }
  });
}

GCTOOL_REGISTER_COMMAND(setup_network);

}  // namespace
}  // namespace gctool::tool
