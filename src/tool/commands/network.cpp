// `gctool network create|ls|inspect|rm|prune|connect|disconnect`: bridge networks, as Docker's
// verbs.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command.hpp"
#include "container_store.hpp"
#include "filters.hpp"
#include "gctool/container/network.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_template.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/network.hpp"
#include "inspect_output.hpp"
#include "list_format.hpp"

namespace gctool::tool {
namespace {

struct NetworkArgs {
  net::CreateNetworkOptions create;
  std::vector<std::string> subnets;
  std::vector<std::string> gateways;
  bool quiet = false;
  bool no_trunc = false;
  bool force = false;
  std::vector<std::string> filters;
  std::string format;
  std::vector<std::string> names;
  std::string network;
  std::string container;
  std::string ip;
  std::string ip6;
  std::vector<std::string> aliases;
  std::vector<std::string> labels;
  std::vector<std::string> options;
};

const ListColumns kColumns{"table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                           {{"ID", "NETWORK ID"},
                            {"Name", "NAME"},
                            {"Driver", "DRIVER"},
                            {"Scope", "SCOPE"},
                            {"IPv6", "IPV6"},
                            {"Internal", "INTERNAL"},
                            {"Labels", "LABELS"},
                            {"CreatedAt", "CREATED AT"}}};

void list_networks(const Globals& globals, const NetworkArgs& args) {
  const auto filters =
      parse_filters(args.filters, {"dangling", "driver", "id", "label", "name", "scope", "type"});
  for (const auto& v : filter_values(filters, "type")) {
    if (v != "custom" && v != "builtin") {
      throw_invalid("invalid filter 'type={}'", v);
    }
  }
  if (!args.quiet && !args.format.empty()) {
    render_list(args.format, kColumns, {});
  }
  for (const auto& v : filter_values(filters, "dangling")) {
    if (v != "true" && v != "false") {
      throw_invalid("invalid filter 'dangling={}': true or false", v);
    }
  }
  const auto attachments = net::list_attachments(globals.root);
  std::vector<nlohmann::json> rows;
  for (const auto& n : net::list_networks(globals.root)) {
    // Docker: a dangling network is a user network no container uses.
    const bool dangling =
        n.name != net::kDefaultNetwork &&
        std::none_of(attachments.begin(), attachments.end(),
                     [&](const net::Attachment& a) { return a.network == n.name; });
    const bool ok =
        filter_accepts(filters, "dangling",
                       [&](const auto& v) { return (v == "true") == dangling; }) &&
        filter_accepts(filters, "driver", [&](const auto& v) { return v == n.driver; }) &&
        filter_accepts(filters, "id", [&](const auto& v) { return n.id.starts_with(v); }) &&
        filter_accepts(filters, "label",
                       [&](const auto& v) { return label_matches(v, nlohmann::json(n.labels)); }) &&
        filter_accepts(filters, "name", [&](const auto& v) { return filter_match(v, n.name); }) &&
        filter_accepts(filters, "scope", [&](const auto& v) { return v == "local"; }) &&
        // gctool's "bridge" network is made on first use, like Docker's built-in one.
        filter_accepts(filters, "type",
                       [&](const auto& v) { return (v == "builtin") == (n.name == "bridge"); });
    if (!ok) {
      continue;
    }
    const auto id = args.no_trunc ? n.id : short_id(n.id);
    if (args.quiet) {
      fmt::print("{}\n", id);
      continue;
    }
    rows.push_back({{"ID", id},
                    {"Name", n.name},
                    {"Driver", n.driver},
                    {"Scope", "local"},
                    {"IPv6", n.subnet6 ? "true" : "false"},
                    {"Internal", n.internal ? "true" : "false"},
                    {"Labels", join_labels(nlohmann::json(n.labels))},
                    {"CreatedAt", n.created}});
  }
  if (!args.quiet) {
    fmt::print("{}", render_list(args.format, kColumns, rows));
  }
}

// --label KEY[=VALUE] (Docker: a missing value is empty) and --opt KEY=VALUE.
std::map<std::string, std::string> parse_pairs(const std::vector<std::string>& items,
                                               std::string_view flag, bool value_required) {
  std::map<std::string, std::string> out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == 0 || (eq == std::string::npos && value_required)) {
      throw_invalid("invalid {} \"{}\": KEY=VALUE", flag, item);
    }
    out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
  }
  return out;
}

void setup_network(CLI::App& app, Globals& globals) {
  auto args = std::make_shared<NetworkArgs>();
  auto* network = app.add_subcommand("network", "Manage networks");
  network->require_subcommand(1);

  auto* create = network->add_subcommand("create", "Create a network");
  create->add_option("-d,--driver", args->create.driver, "Driver (bridge)")->capture_default_str();
  create
      ->add_option("--subnet", args->subnets,
                   "Subnet in CIDR form, e.g. 10.1.0.0/24 (default: a free one of the pools); "
                   "with --ipv6 an IPv6 one too, e.g. fd00:1::/64")
      ->allow_extra_args(false);
  create
      ->add_option("--gateway", args->gateways,
                   "Gateway address (default: first host), one per subnet family")
      ->allow_extra_args(false);
  create->add_flag("--ipv6", args->create.ipv6, "Enable IPv6 (needs an IPv6 --subnet)");
  create->add_flag("--internal", args->create.internal, "Restrict external access to the network");
  create->add_option("--label", args->labels, "Set metadata on a network")->allow_extra_args(false);
  create
      ->add_option("-o,--opt", args->options,
                   "Driver options (com.docker.network.bridge.name=NAME)")
      ->allow_extra_args(false);
  create->add_option("NAME", args->create.name, "Network name")->required();
  create->callback([args, &globals] {
    // Docker's form: one --subnet (and --gateway) per address family.
    const auto split = [](const std::vector<std::string>& values, const char* flag,
                          std::optional<std::string>& v4, std::optional<std::string>& v6) {
      for (const auto& value : values) {
        auto& slot = net::is_ipv6_text(value) ? v6 : v4;
        if (slot) {
          throw_invalid("{}: one IPv4 and one IPv6 value at most", flag);
        }
        slot = value;
      }
    };
    std::optional<std::string> subnet;
    std::optional<std::string> subnet6;
    split(args->subnets, "--subnet", subnet, subnet6);
    split(args->gateways, "--gateway", args->create.gateway, args->create.gateway6);
    args->create.subnet = subnet.value_or("");
    args->create.subnet6 = subnet6.value_or("");
    args->create.labels = parse_pairs(args->labels, "--label", false);
    args->create.options = parse_pairs(args->options, "--opt", true);
    const auto n = net::create_network(globals.root, args->create);
    fmt::print("{}\n", n.id);
  });

  auto* ls = network->add_subcommand("ls", "List networks");
  ls->alias("list");
  ls->add_flag("-q,--quiet", args->quiet, "Only display network IDs");
  ls->add_flag("--no-trunc", args->no_trunc, "Do not truncate the output");
  ls->add_option("-f,--filter", args->filters,
                 "Filter output: dangling, driver, id, label, name, scope, type")
      ->allow_extra_args(false);
  ls->add_option("--format", args->format,
                 "Output format: table, table TEMPLATE, json or a Go template");
  ls->callback([args, &globals] { list_networks(globals, *args); });

  auto* inspect = network->add_subcommand("inspect", "Display detailed network information");
  inspect->add_option("-f,--format", args->format, "Format the output with a Go template");
  inspect->add_option("NAME", args->names, "Network names or IDs")->required();
  inspect->callback([args, &globals] {
    InspectOutput result;
    for (const auto& name : args->names) {
      if (const auto n = net::try_find_network(globals.root, name)) {
        result.found.push_back(net::inspect_network(globals.root, *n));
      } else {
        result.errors.push_back(fmt::format("network {} not found", name));
      }
    }
    if (result.found.empty() && !result.errors.empty()) {
      throw_invalid("{}", result.errors.front());
    }
    print_inspect(result, args->format.empty() ? std::nullopt : std::optional(args->format),
                  globals);
  });

  auto* prune = network->add_subcommand("prune", "Remove all networks no container uses");
  prune->add_flag("-f,--force", args->force, "Do not prompt for confirmation");
  prune->callback([args, &globals] {
    if (!args->force) {
      fmt::print(stderr,
                 "WARNING! This will remove all networks not used by at least one container.\n"
                 "Are you sure you want to continue? [y/N] ");
      std::fflush(stderr);
      std::string answer;
      if (!std::getline(std::cin, answer) || (answer != "y" && answer != "Y")) {
        return;
      }
    }
    const auto removed = net::prune_networks(globals.root);
    if (!removed.empty()) {
      fmt::print("Deleted Networks:\n{}\n", fmt::join(removed, "\n"));
    }
  });

  auto* connect = network->add_subcommand("connect", "Connect a running container to a network");
  connect->add_option("--ip", args->ip, "IPv4 address on the network");
  connect->add_option("--ip6", args->ip6, "IPv6 address on the network");
  connect->add_option("--alias", args->aliases, "Add network-scoped aliases for the container")
      ->allow_extra_args(false);
  connect->add_option("NETWORK", args->network, "Network name or ID")->required();
  connect->add_option("CONTAINER", args->container, "Container name or ID")->required();
  connect->callback([args, &globals] {
    net::AttachOptions options;
    if (!args->ip.empty()) {
      options.ip = net::parse_ipv4(args->ip);
    }
    if (!args->ip6.empty()) {
      options.ip6 = net::parse_ipv6(args->ip6);
    }
    options.aliases = args->aliases;
    const auto store = open_container_store(globals);
    container::connect_container(store, args->container, args->network, options);
  });

  auto* disconnect =
      network->add_subcommand("disconnect", "Disconnect a running container from a network");
  disconnect->add_flag("-f,--force", args->force, "Accepted for Docker compatibility");
  disconnect->add_option("NETWORK", args->network, "Network name or ID")->required();
  disconnect->add_option("CONTAINER", args->container, "Container name or ID")->required();
  disconnect->callback([args, &globals] {
    const auto store = open_container_store(globals);
    container::disconnect_container(store, args->container, args->network);
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

GCTOOL_REGISTER_COMMAND(setup_network, "network");

}  // namespace
}  // namespace gctool::tool
