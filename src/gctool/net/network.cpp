#include "gctool/net/network.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/crash_point.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/event_journal.hpp"
#include "gctool/core/file_lock.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/core/stale_temporaries.hpp"
#include "gctool/core/time.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/firewall.hpp"
#include "gctool/net/ipam_store.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/resolver.hpp"
#include "network_internal.hpp"

namespace gctool::net {
namespace {

std::filesystem::path network_file(const std::filesystem::path& root, std::string_view name) {
  return networks_dir(root) / (std::string(name) + ".json");
}

// A create or a remove takes several steps (bridge, address, rules, pool, definition). It records
// its intent first, in a dot file named after the bridge, and deletes that file when done; the
// networks lock is held throughout. So an intent found by whoever holds the lock belongs to a
// process that died midway: a create is rolled back, a remove is finished (see recover()).
constexpr std::string_view kCreatingPrefix = ".creating-";
constexpr std::string_view kRemovingPrefix = ".removing-";

std::filesystem::path intent_file(const std::filesystem::path& root, std::string_view prefix,
                                  const Network& n) {
  return networks_dir(root) / fmt::format("{}{}.json", prefix, n.bridge);
}

// Removes what a network has on the host and in the root, then its intent file. The attachments
// and the pool go only when no network of that name is defined (any more): a new network may
// have taken the name since an intent whose cleanup failed before.
void dismantle(const std::filesystem::path& root, const Network& n,
               const std::filesystem::path& intent) {
  const bool name_taken = std::filesystem::exists(network_file(root, n.name));
  if (!name_taken) {
    for (const auto& a : list_attachments(root)) {
      if (a.network == n.name) {
        disconnect_locked(root, n.name, a.container_id);
      }
    }
  }
  {
    Netlink nl;
    try_delete_link(nl, n.bridge);
  }
  crash_point("network-rm:link");
  if (!name_taken) {
    stop_resolver(root, n.name);
  }
  remove_network_rules(n.bridge);
  if (!name_taken) {
    IpamStore(root, n.name, n.subnet, n.gateway).purge();
  }
  std::filesystem::remove(intent);
}

// Completes or rolls back the changes of processes that died holding the networks lock, and
// removes the temporary files of their interrupted writes. Called with the lock held. An intent
// that cannot be handled now stays for the next time; it must not stop this command.
void recover(const std::filesystem::path& root) {
  remove_stale_temporaries(networks_dir(root));
  remove_stale_temporaries(networks_dir(root) / "endpoints");
  remove_stale_temporaries(networks_dir(root) / "resolvers");
  forget_dead_resolvers(root);
  std::vector<std::filesystem::path> intents;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(networks_dir(root), ec)) {
    const std::string name = entry.path().filename().string();
    if ((name.starts_with(kCreatingPrefix) || name.starts_with(kRemovingPrefix)) &&
        entry.path().extension() == ".json") {
      intents.push_back(entry.path());
    }
  }
  for (const auto& intent : intents) {
    try {
      if (const auto j = try_load_json(intent)) {
        dismantle(root, network_from_json(*j), intent);
      }
    } catch (const std::exception&) {
      // Left for the next time (intents are written atomically, so never torn).
    }
  }
}

// Adds the bridge's addresses; an address already there (another process won the race) is fine.
void add_bridge_address(Netlink& nl, const Network& n) {
  const auto ignore_existing = [](auto add) {
    try {
      add();
    } catch (const Error& e) {
      if (e.errno_value() != EEXIST) {
        throw;
      }
    }
  };
  ignore_existing([&] { add_address(nl, n.bridge, n.gateway, n.subnet.prefix); });
  if (n.subnet6 && n.gateway6) {
    // A bridge made while the host's default.disable_ipv6 is 1 would refuse the address.
    set_net_sysctl(fmt::format("ipv6/conf/{}/disable_ipv6", n.bridge), "0");
    ignore_existing([&] { add_address(nl, n.bridge, *n.gateway6, n.subnet6->prefix); });
  }
}

std::string describe_route(const RouteInfo& route, const std::vector<LinkInfo>& links) {
  for (const auto& link : links) {
    if (link.index == route.oif) {
      return fmt::format("{} dev {}", to_string(route.destination), link.name);
    }
  }
  return to_string(route.destination);
}

// The first subnet of the pools that overlaps no network and no host route.
std::optional<Ipv4Network> free_pool_subnet(const std::filesystem::path& root) {
  const auto pools = default_address_pools();
  const auto networks = list_networks(root);
  Netlink nl;
  const auto routes = list_routes(nl);
  const auto used = [&](const Ipv4Network& candidate) {
    return std::any_of(networks.begin(), networks.end(),
                       [&](const Network& n) { return n.subnet.overlaps(candidate); }) ||
           std::any_of(routes.begin(), routes.end(), [&](const RouteInfo& r) {
             return r.destination.prefix > 0 && r.destination.overlaps(candidate);
           });
  };
  for (const auto& pool : pools) {
    const std::uint64_t count = std::uint64_t{1} << (pool.size - pool.base.prefix);
    const std::uint64_t step = std::uint64_t{1} << (32 - pool.size);
    for (std::uint64_t i = 0; i < count; ++i) {
      const Ipv4Network candidate{{static_cast<std::uint32_t>(pool.base.address.value + i * step)},
                                  pool.size};
      if (!used(candidate)) {
        return candidate;
      }
    }
  }
  return std::nullopt;
}

// --opt: only the bridge's name is known; it must be a free link name no network uses.
void check_driver_options(const std::filesystem::path& root,
                          const std::map<std::string, std::string>& options) {
  for (const auto& [key, value] : options) {
    if (key != kBridgeNameOption) {
      throw_invalid("network option \"{}\" is not supported (only {})", key, kBridgeNameOption);
    }
    check_link_name(value);
    for (const auto& n : list_networks(root)) {
      if (n.bridge == value) {
        throw_invalid("bridge name {} is already used by network {}", value, n.name);
      }
    }
    Netlink nl;
    if (find_link(nl, value)) {
      throw_invalid("bridge name {} is already used by a link of the host", value);
    }
  }
}

std::string describe_pools() {
  std::string out;
  for (const auto& pool : default_address_pools()) {
    out += fmt::format("{}{} in /{}s", out.empty() ? "" : ", ", to_string(pool.base), pool.size);
  }
  return out;
}

}  // namespace

std::filesystem::path networks_dir(const std::filesystem::path& root) {
  return root / "networks";
}

std::vector<AddressPool> parse_address_pools(std::string_view text) {
  std::vector<AddressPool> pools;
  while (!text.empty()) {
    const auto end = text.find_first_of(" ;");
    const auto entry = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (entry.empty()) {
      continue;
    }
    std::optional<Ipv4Network> base;
    std::optional<int> size;
    std::string_view rest = entry;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto field = rest.substr(0, comma);
      rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
      if (field.starts_with("base=")) {
        base = parse_cidr(field.substr(5));
      } else if (field.starts_with("size=") && field.size() > 5 && field.size() <= 7 &&
                 std::all_of(field.begin() + 5, field.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
        size = std::stoi(std::string(field.substr(5)));
      } else {
        throw_invalid("invalid address pool \"{}\": expected base=CIDR,size=PREFIX", entry);
      }
    }
    if (!base || !size || *size < base->prefix || *size > 30 || *size < 8) {
      throw_invalid(
          "invalid address pool \"{}\": expected base=CIDR,size=PREFIX with the base's prefix "
          "<= size <= 30",
          entry);
    }
    pools.push_back({*base, *size});
  }
  return pools;
}

std::vector<AddressPool> default_address_pools() {
  if (const char* env = std::getenv("GCTOOL_DEFAULT_ADDRESS_POOLS"); env != nullptr && *env) {
    return parse_address_pools(env);
  }
  // Docker's defaults: 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16 in /20s.
  return parse_address_pools(
      "base=172.17.0.0/16,size=16 base=172.18.0.0/15,size=16 "
      "base=172.20.0.0/14,size=16 base=172.24.0.0/13,size=16 "
      "base=192.168.0.0/16,size=20");
}

FileLock lock_networks(const std::filesystem::path& root) {
  std::filesystem::create_directories(networks_dir(root));
  auto lock = FileLock::exclusive(networks_dir(root) / ".lock");
  recover(root);
  return lock;
}

void check_network_name(std::string_view name) {
  const auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
  };
  if (name.empty() || name.size() > 64 || std::isalnum(static_cast<unsigned char>(name[0])) == 0 ||
      !std::all_of(name.begin(), name.end(), allowed)) {
    throw_invalid(
        "invalid network name \"{}\": use letters, digits, '_', '.' and '-', starting with a "
        "letter or digit, at most 64 characters",
        name);
  }
}

nlohmann::json to_json(const Network& n) {
  auto config =
      nlohmann::json::array({{{"Subnet", to_string(n.subnet)}, {"Gateway", to_string(n.gateway)}}});
  if (n.subnet6 && n.gateway6) {
    config.push_back({{"Subnet", to_string(*n.subnet6)}, {"Gateway", to_string(*n.gateway6)}});
  }
  return {{"Name", n.name},
          {"Id", n.id},
          {"Created", n.created},
          {"Scope", "local"},
          {"Driver", n.driver},
          {"EnableIPv6", n.subnet6.has_value()},
          {"IPAM", {{"Driver", "default"}, {"Config", config}}},
          {"Internal", n.internal},
          {"Labels", n.labels},
          {"Options", {{std::string(kBridgeNameOption), n.bridge}}}};
}

Network network_from_json(const nlohmann::json& j) {
  Network n;
  n.name = j.at("Name").get<std::string>();
  n.id = j.at("Id").get<std::string>();
  n.created = j.value("Created", "");
  n.driver = j.value("Driver", "bridge");
  const auto& configs = j.at("IPAM").at("Config");
  n.subnet = parse_cidr(configs.at(0).at("Subnet").get<std::string>());
  n.gateway = parse_ipv4(configs.at(0).at("Gateway").get<std::string>());
  if (configs.size() > 1) {
    n.subnet6 = parse_cidr6(configs.at(1).at("Subnet").get<std::string>());
    n.gateway6 = parse_ipv6(configs.at(1).at("Gateway").get<std::string>());
  }
  n.bridge = j.at("Options").at(std::string(kBridgeNameOption)).get<std::string>();
  n.internal = j.value("Internal", false);
  n.labels = j.value("Labels", std::map<std::string, std::string>{});
  return n;
}

std::vector<Network> list_networks(const std::filesystem::path& root) {
  std::vector<Network> networks;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(networks_dir(root), ec)) {
    const auto& p = entry.path();
    if (p.extension() != ".json" || p.filename().string().starts_with('.')) {
      continue;
    }
    if (auto j = try_load_json(p)) {
      try {
        networks.push_back(network_from_json(*j));
      } catch (const std::exception& e) {
        throw_invalid("corrupt network file {}: {}", p, e.what());
      }
    }
  }
  std::sort(networks.begin(), networks.end(),
            [](const Network& a, const Network& b) { return a.name < b.name; });
  return networks;
}

std::optional<Network> try_find_network(const std::filesystem::path& root,
                                        std::string_view name_or_id) {
  const auto networks = list_networks(root);
  for (const auto& n : networks) {
    if (n.name == name_or_id || n.id == name_or_id) {
      return n;
    }
  }
  std::optional<Network> found;
  if (name_or_id.empty()) {
    return found;
  }
  for (const auto& n : networks) {
    if (n.id.starts_with(name_or_id)) {
      if (found) {
        throw_invalid("network id prefix \"{}\" is ambiguous", name_or_id);
      }
      found = n;
    }
  }
  return found;
}

Network find_network(const std::filesystem::path& root, std::string_view name_or_id) {
  if (auto n = try_find_network(root, name_or_id)) {
    return *n;
  }
  throw Error(ENOENT, fmt::format("network {} not found", name_or_id));
}

std::pair<Ipv4Network, Ipv4Address> validate_new_network(const std::filesystem::path& root,
                                                         const CreateNetworkOptions& options) {
  check_network_name(options.name);
  if (options.driver != "bridge") {
    throw_invalid("network driver \"{}\" is not supported (only bridge)", options.driver);
  }
  check_driver_options(root, options.options);
  validate_new_ipv6(root, options);
  if (options.subnet.empty()) {
    if (options.gateway) {
      throw_invalid("--gateway needs --subnet");
    }
    for (const auto& n : list_networks(root)) {
      if (n.name == options.name) {
        throw_invalid("network with name {} already exists", options.name);
      }
    }
    const auto subnet = free_pool_subnet(root);
    if (!subnet) {
      throw Error(EADDRNOTAVAIL,
                  fmt::format("no free subnet: every subnet of the address pools ({}) overlaps "
                              "a host route or another network; use --subnet",
                              describe_pools()));
    }
    return {*subnet, Ipv4Address{subnet->address.value + 1}};
  }
  const Ipv4Network subnet = parse_cidr(options.subnet);
  if (subnet.prefix > 30) {
    throw_invalid("subnet {} is too small: a network needs at least a /30", to_string(subnet));
  }
  if (subnet.prefix < 8) {
    throw_invalid("subnet {} is too large: at most a /8", to_string(subnet));
  }
  Ipv4Address gateway{subnet.address.value + 1};
  if (options.gateway) {
    gateway = parse_ipv4(*options.gateway);
    if (!subnet.contains(gateway)) {
      throw_invalid("gateway {} is outside subnet {}", to_string(gateway), to_string(subnet));
    }
    if (gateway == subnet.network() || gateway == subnet.broadcast()) {
      throw_invalid("gateway {} is the {} address of subnet {}", to_string(gateway),
                    gateway == subnet.network() ? "network" : "broadcast", to_string(subnet));
    }
  }
  for (const auto& n : list_networks(root)) {
    if (n.name == options.name) {
      throw_invalid("network with name {} already exists", options.name);
    }
    if (n.subnet.overlaps(subnet)) {
      throw_invalid("subnet {} overlaps network {} ({})", to_string(subnet), n.name,
                    to_string(n.subnet));
    }
  }
  Netlink nl;
  const auto links = list_links(nl);
  for (const auto& route : list_routes(nl)) {
    if (route.destination.prefix > 0 && route.destination.overlaps(subnet)) {
      throw_invalid("subnet {} overlaps host route {}", to_string(subnet),
                    describe_route(route, links));
    }
  }
  return {subnet, gateway};
}

std::optional<std::pair<Ipv6Network, Ipv6Address>> validate_new_ipv6(
    const std::filesystem::path& root, const CreateNetworkOptions& options) {
  if (!options.ipv6) {
    if (!options.subnet6.empty()) {
      throw_invalid("subnet {} is an IPv6 subnet: add --ipv6", options.subnet6);
    }
    if (options.gateway6) {
      throw_invalid("gateway {} is an IPv6 address: add --ipv6", *options.gateway6);
    }
    return std::nullopt;
  }
  if (options.subnet6.empty()) {
    // Docker would pick one from a pool of unique local /64s; gctool asks for it instead.
    throw_invalid("--ipv6 needs an IPv6 --subnet, e.g. --subnet fd00:1::/64");
  }
  const Ipv6Network subnet = parse_cidr6(options.subnet6);
  if (subnet.prefix < 8 || subnet.prefix > 120) {
    throw_invalid("IPv6 subnet {} must be from /8 to /120", to_string(subnet));
  }
  // Loopback, unspecified and IPv4-mapped (all in ::/80), link-local and multicast addresses
  // cannot be a network's.
  for (const auto* reserved : {"::/80", "fe80::/10", "ff00::/8"}) {
    if (subnet.overlaps(parse_cidr6(reserved))) {
      throw_invalid("IPv6 subnet {} overlaps the reserved range {}", to_string(subnet), reserved);
    }
  }
  Ipv6Address gateway = subnet.host(1);
  if (options.gateway6) {
    gateway = parse_ipv6(*options.gateway6);
    if (!subnet.contains(gateway) || gateway == subnet.address) {
      throw_invalid("gateway {} is not a host address of subnet {}", to_string(gateway),
                    to_string(subnet));
    }
  }
  for (const auto& n : list_networks(root)) {
    if (n.subnet6 && n.subnet6->overlaps(subnet)) {
      throw_invalid("subnet {} overlaps network {} ({})", to_string(subnet), n.name,
                    to_string(*n.subnet6));
    }
  }
  return std::pair{subnet, gateway};
}

void ensure_bridge(const Network& n) {
  Netlink nl;
  if (!find_link(nl, n.bridge)) {
    try {
      create_bridge(nl, n.bridge);
    } catch (const Error& e) {
      if (e.errno_value() != EEXIST) {
        throw;
      }
    }
  }
  add_bridge_address(nl, n);
  set_link_up(nl, n.bridge);
  install_network_rules(n.bridge, n.subnet, n.internal, n.subnet6);
}

Network create_network_locked(const std::filesystem::path& root,
                              const CreateNetworkOptions& options) {
  const auto [subnet, gateway] = validate_new_network(root, options);
  Network n;
  n.name = options.name;
  n.id = random_id();
  n.driver = options.driver;
  n.created = format_rfc3339_nano(std::chrono::system_clock::now());
  n.subnet = subnet;
  n.gateway = gateway;
  if (const auto v6 = validate_new_ipv6(root, options)) {
    n.subnet6 = v6->first;
    n.gateway6 = v6->second;
  }
  const auto name_option = options.options.find(std::string(kBridgeNameOption));
  n.bridge = name_option != options.options.end() ? name_option->second
                                                  : std::string(kBridgePrefix) + n.id.substr(0, 10);
  n.internal = options.internal;
  n.labels = options.labels;

  const auto intent = intent_file(root, kCreatingPrefix, n);
  save_json(intent, to_json(n));
  crash_point("network-create:intent");
  ScopeExit undo([&]() noexcept {
    try {
      dismantle(root, n, intent);
    } catch (...) {
      // The intent stays: the next command that takes the lock tries again.
    }
  });
  Netlink nl;
  create_bridge(nl, n.bridge);
  add_bridge_address(nl, n);
  set_link_up(nl, n.bridge);
  crash_point("network-create:bridge");
  install_network_rules(n.bridge, n.subnet, n.internal, n.subnet6);
  // A pool left by an earlier network of the same name belongs to another subnet.
  IpamStore(root, n.name, n.subnet, n.gateway).purge();
  // The commit point: the intent becomes the definition.
  const auto file = network_file(root, n.name);
  check(::rename(intent.c_str(), file.c_str()), "rename {} to {}", intent, file);
  undo.release();
  fsync_directory(networks_dir(root));
  record_event(root, {"network", "create", n.id, {{"name", n.name}, {"type", "bridge"}}});
  return n;
}

Network create_network(const std::filesystem::path& root, const CreateNetworkOptions& options) {
  const auto lock = lock_networks(root);
  return create_network_locked(root, options);
}

Network ensure_default_network_locked(const std::filesystem::path& root) {
  if (auto n = try_find_network(root, kDefaultNetwork)) {
    return *n;
  }
  CreateNetworkOptions options;
  options.name = std::string(kDefaultNetwork);
  return create_network_locked(root, options);
}

Network ensure_default_network(const std::filesystem::path& root) {
  const auto lock = lock_networks(root);
  return ensure_default_network_locked(root);
}

namespace {

// Records the intent to remove n, then dismantles it. Called with the lock held.
void remove_network_locked(const std::filesystem::path& root, const Network& n) {
  // The intent: from here on, whoever takes the lock next finishes the removal if this process
  // dies, and nothing can attach to the network any more.
  const auto file = network_file(root, n.name);
  const auto intent = intent_file(root, kRemovingPrefix, n);
  check(::rename(file.c_str(), intent.c_str()), "rename {} to {}", file, intent);
  fsync_directory(networks_dir(root));
  crash_point("network-rm:intent");
  dismantle(root, n, intent);
  record_event(root, {"network", "destroy", n.id, {{"name", n.name}, {"type", "bridge"}}});
}

}  // namespace

std::vector<std::string> prune_networks(const std::filesystem::path& root) {
  const auto lock = lock_networks(root);
  const auto attachments = list_attachments(root);
  std::vector<std::string> removed;
  for (const auto& n : list_networks(root)) {
    const bool used = std::any_of(attachments.begin(), attachments.end(),
                                  [&](const Attachment& a) { return a.network == n.name; });
    if (!used && n.name != kDefaultNetwork) {
      remove_network_locked(root, n);
      removed.push_back(n.name);
    }
  }
  return removed;
}

namespace {

void remove_network_checked(const std::filesystem::path& root, const Network& n, bool force) {
  std::vector<Attachment> users;
  for (auto& a : list_attachments(root)) {
    if (a.network == n.name) {
      users.push_back(std::move(a));
    }
  }
  if (!users.empty() && !force) {
    std::string names;
    for (const auto& a : users) {
      names += (names.empty() ? "" : ", ") +
               (a.container_name.empty() ? short_id(a.container_id) : a.container_name);
    }
    throw_invalid("network {} has active containers: {}", n.name, names);
  }
  remove_network_locked(root, n);
}

}  // namespace

void remove_network(const std::filesystem::path& root, std::string_view name_or_id, bool force) {
  const auto lock = lock_networks(root);
  const Network n = find_network(root, name_or_id);
  if (n.name == kDefaultNetwork) {
    // Docker's words; its default network lives as long as the daemon's data.
    throw_invalid("{} is a pre-defined network and cannot be removed", n.name);
  }
  remove_network_checked(root, n, force);
}

void remove_default_network(const std::filesystem::path& root, bool force) {
  const auto lock = lock_networks(root);
  if (const auto n = try_find_network(root, kDefaultNetwork)) {
    remove_network_checked(root, *n, force);
  }
}

nlohmann::json inspect_network(const std::filesystem::path& root, const Network& n) {
  auto j = to_json(n);
  j["Attachable"] = false;
  auto containers = nlohmann::json::object();
  for (const auto& a : list_attachments(root)) {
    if (a.network == n.name) {
      containers[a.container_id] = {
          {"Name", a.container_name},
          {"MacAddress", to_string(a.mac)},
          {"IPv4Address", fmt::format("{}/{}", to_string(a.ip), a.prefix)},
          {"IPv6Address", a.ip6 ? fmt::format("{}/{}", to_string(*a.ip6), a.prefix6) : ""}};
    }
  }
  j["Containers"] = containers;
  return j;
}

}  // namespace gctool::net
