// Bridge networks: their definitions in <root>/networks/<name>.json (written atomically under the
// lock <root>/networks/.lock), validation of a new one, and the host side (bridge, address,
// firewall) that exists as long as the network does. A create or remove records its intent
// first; whoever takes the lock after a process died midway rolls the create back or finishes
// the remove.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gctool/net/ipv4.hpp"
#include "gctool/net/ipv6.hpp"

namespace gctool::net {

struct Network {
  std::string name;
  std::string id;  // 64 hex digits
  std::string driver = "bridge";
  std::string created;  // RFC 3339
  Ipv4Network subnet;
  Ipv4Address gateway;
  std::string bridge;     // "gct-" + the first 10 digits of the id, or --opt's bridge name
  bool internal = false;  // no NAT, no default route, nothing forwarded in or out
  std::map<std::string, std::string> labels;
  // --ipv6: the IPv6 subnet and the bridge's address in it (its first host address by default).
  std::optional<Ipv6Network> subnet6;
  std::optional<Ipv6Address> gateway6;
};

struct CreateNetworkOptions {
  std::string name;
  std::string driver = "bridge";
  std::string subnet;                  // CIDR; empty: the first free subnet of the pools
  std::optional<std::string> gateway;  // default: the first host address
  bool ipv6 = false;                   // --ipv6: needs subnet6
  std::string subnet6;                 // an IPv6 CIDR (Docker's second --subnet)
  std::optional<std::string> gateway6;
  bool internal = false;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;  // --opt; only kBridgeNameOption is known
};

inline constexpr std::string_view kDefaultNetwork = "bridge";
// The driver option that names the bridge (Docker's; default "gct-" + 10 digits of the id).
inline constexpr std::string_view kBridgeNameOption = "com.docker.network.bridge.name";

// Where `network create` without --subnet (and the default network) take a subnet from: the
// subnets of prefix `size` inside `base`, in order.
struct AddressPool {
  Ipv4Network base;
  int size = 0;
};

// "base=CIDR,size=N" entries separated by spaces or ';' (dockerd's --default-address-pool).
// Throws a one-line invalid-input Error.
std::vector<AddressPool> parse_address_pools(std::string_view text);

// $GCTOOL_DEFAULT_ADDRESS_POOLS when set, else Docker's: 172.17.0.0/16 to 172.31.0.0/16, then
// 192.168.0.0/16 in /20s.
std::vector<AddressPool> default_address_pools();

// Checks a network name: Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters.
void check_network_name(std::string_view name);

// Parses and validates the subnet and gateway of a new network against the host's routes and the
// other gctool networks; without a subnet, picks the first free one of the address pools. Throws a
// one-line invalid-input Error and changes nothing.
std::pair<Ipv4Network, Ipv4Address> validate_new_network(const std::filesystem::path& root,
                                                         const CreateNetworkOptions& options);

// The IPv6 half of the checks: --ipv6 needs an IPv6 subnet (and an IPv6 subnet needs --ipv6), a
// unicast one (no link-local, multicast or loopback) from /8 to /120 that overlaps no other
// network's. Returns the subnet and the gateway, nullopt without --ipv6. Throws as above.
std::optional<std::pair<Ipv6Network, Ipv6Address>> validate_new_ipv6(
    const std::filesystem::path& root, const CreateNetworkOptions& options);

// Validates, creates the bridge with the gateway address, installs the firewall rules, then
// records the network (the commit point). On failure nothing is left behind.
Network create_network(const std::filesystem::path& root, const CreateNetworkOptions& options);

std::vector<Network> list_networks(const std::filesystem::path& root);

// By exact name, full id, or unique id prefix; nullopt when none.
std::optional<Network> try_find_network(const std::filesystem::path& root,
                                        std::string_view name_or_id);
// As try_find_network; throws `network X not found` (ENOENT).
Network find_network(const std::filesystem::path& root, std::string_view name_or_id);

// Removes the bridge, the firewall rules (the whole table when no network is left), the IPAM pool
// and the definition. Refused (`network X has active containers: a, b`) while containers are
// attached, unless force: then they are detached first. The default network is refused as Docker
// refuses it (`bridge is a pre-defined network and cannot be removed`).
void remove_network(const std::filesystem::path& root, std::string_view name_or_id, bool force);

// Removes the default network as remove_network would remove another one: for an embedder (or a
// test) that tears a whole data root down. Nothing when it does not exist.
void remove_default_network(const std::filesystem::path& root, bool force);

// The network `bridge`, created on first use with the first free subnet of the address pools
// (172.17.0.0/16 unless that overlaps a host route or another network).
Network ensure_default_network(const std::filesystem::path& root);

// Re-creates the bridge, its address and firewall rules when they are missing (after a reboot).
void ensure_bridge(const Network& network);

// Removes every network no container is attached to, but the default one; returns their names.
std::vector<std::string> prune_networks(const std::filesystem::path& root);

// `docker network inspect` JSON for one network, Containers included.
nlohmann::json inspect_network(const std::filesystem::path& root, const Network& network);

nlohmann::json to_json(const Network& network);
Network network_from_json(const nlohmann::json& json);

}  // namespace gctool::net
