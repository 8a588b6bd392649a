#include "gctool/net/attach.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/net/firewall.hpp"
#include "gctool/net/ipam_store.hpp"
#include "gctool/net/netns.hpp"
#include "gctool/net/network.hpp"
#include "gctool/net/resolver.hpp"
#include "network_internal.hpp"

namespace gctool::net {
namespace {

std::filesystem::path endpoints_dir(const std::filesystem::path& root) {
  return networks_dir(root) / "endpoints";
}

void check_container_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id.find('/') != std::string::npos || id[0] == '.') {
    throw_invalid("invalid container id \"{}\"", id);
  }
}

std::filesystem::path endpoint_file(const std::filesystem::path& root, const std::string& id) {
  check_container_id(id);
  return endpoints_dir(root) / (id + ".json");
}

std::string port_label(const PortMapping& p) {
  return fmt::format("{}{}/{}", p.host_ip ? to_string(*p.host_ip) + ":" : "", p.host_port,
                     to_string(p.protocol));
}

nlohmann::json port_json(const PortMapping& p) {
  return {{"HostIp", p.host_ip ? to_string(*p.host_ip) : "0.0.0.0"},
          {"HostPort", p.host_port},
          {"ContainerPort", p.container_port},
          {"Protocol", std::string(to_string(p.protocol))}};
}

PortMapping port_from_json(const nlohmann::json& j) {
  PortMapping p;
  const auto ip = j.value("HostIp", "0.0.0.0");
  if (ip != "0.0.0.0") {
    p.host_ip = parse_ipv4(ip);
  }
  p.host_port = j.at("HostPort").get<std::uint16_t>();
  p.container_port = j.at("ContainerPort").get<std::uint16_t>();
  p.protocol = j.value("Protocol", "tcp") == "udp" ? Protocol::udp : Protocol::tcp;
  return p;
}

void validate_publish(const std::vector<Attachment>& attachments,
                      const std::vector<PortMapping>& ports) {
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const auto& p = ports[i];
    if (p.container_port == 0) {
      throw_invalid("publish {}: container port 0", to_string(p));
    }
    if (p.host_port == 0) {
      continue;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (conflicts(p, ports[j])) {
        throw_invalid("port {} is published twice", port_label(p));
      }
    }
    for (const auto& a : attachments) {
      for (const auto& q : a.ports) {
        if (conflicts(p, q)) {
          throw_invalid("port {} is already published by container {}{}", port_label(p),
                        short_id(a.container_id),
                        a.container_name.empty() ? "" : " (" + a.container_name + ")");
        }
      }
    }
    if (!host_port_bindable(p)) {
      throw_invalid("port {} is already in use on the host", port_label(p));
    }
  }
}

// Gives random (0) host ports a free port no gctool container publishes. Caller holds the lock.
std::vector<PortMapping> resolve_ports(const std::vector<Attachment>& attachments,
                                       std::vector<PortMapping> ports) {
  validate_publish(attachments, ports);
  for (std::size_t i = 0; i < ports.size(); ++i) {
    auto& p = ports[i];
    for (int attempt = 0; p.host_port == 0; ++attempt) {
      if (attempt == 100) {
        throw Error(EADDRINUSE, fmt::format("find a free host port for {}/{}", p.container_port,
                                            to_string(p.protocol)));
      }
      PortMapping candidate = p;
      candidate.host_port = pick_free_host_port(p);
      bool taken = false;
      for (const auto& a : attachments) {
        for (const auto& q : a.ports) {
          taken = taken || conflicts(candidate, q);
        }
      }
      for (std::size_t j = 0; j < i; ++j) {
        taken = taken || conflicts(candidate, ports[j]);
      }
      if (!taken) {
        p = candidate;
      }
    }
  }
  return ports;
}

// The addresses the endpoints on `network` hold, but container `except`'s: the truth the
// network's pool must agree with (an endpoint is written with its address, under the networks
// lock, and removed with it).
std::map<std::string, Ipv4Address> endpoint_owners(const std::vector<Attachment>& attachments,
                                                   const std::string& network,
                                                   std::string_view except = {}) {
  std::map<std::string, Ipv4Address> owners;
  for (const auto& a : attachments) {
    if (a.network == network && a.container_id != except) {
      owners.emplace(a.container_id, a.ip);
    }
  }
  return owners;
}

// The pool's address for the container, checked against the endpoints: an explicit address
// another endpoint holds is refused whatever the pool says, and a pool that cannot answer
// (damaged, or full or taken by what may be leftovers) or answers an address an endpoint holds
// (rolled back) is rebuilt from the endpoints and asked again. The usual case costs a scan of the
// attachments already read, nothing more.
Ipv4Address allocate_address(IpamStore& ipam, const std::string& network,
                             const std::string& container_id, std::optional<Ipv4Address> requested,
                             const std::vector<Attachment>& attachments) {
  const auto holder = [&](Ipv4Address ip) -> const Attachment* {
    for (const auto& a : attachments) {
      if (a.network == network && a.ip == ip) {
        return &a;
      }
    }
    return nullptr;
  };
  if (requested) {
    if (const auto* a = holder(*requested)) {
      throw_invalid("address {} is already in use in network {} by container {}{}",
                    to_string(*requested), network, short_id(a->container_id),
                    a->container_name.empty() ? "" : " (" + a->container_name + ")");
    }
  }
  try {
    const auto ip = ipam.allocate(container_id, requested);
    if (holder(ip) == nullptr) {
      return ip;
    }
  } catch (const Error&) {
    // Asked again below, of a pool rebuilt from the truth.
  }
  ipam.sync(endpoint_owners(attachments, network));
  return ipam.allocate(container_id, requested);
}

template <typename F>
void best_effort(F f) noexcept {
  try {
    f();
  } catch (...) {
  }
}

}  // namespace

Ipv6Address allocate_ipv6(const Ipv6Network& subnet, const Ipv6Address& gateway,
                          const std::string& network, const std::vector<Attachment>& attachments) {
  const std::uint64_t end =
      subnet.prefix >= 128 - 16 ? std::uint64_t{1} << (128 - subnet.prefix) : kIpv6Window;
  std::vector<bool> used(end);
  used[0] = true;
  if (const auto g = subnet.offset_of(gateway); g && *g < end) {
    used[*g] = true;
  }
  for (const auto& a : attachments) {
    if (a.network == network && a.ip6) {
      if (const auto o = subnet.offset_of(*a.ip6); o && *o < end) {
        used[*o] = true;
      }
    }
  }
  const auto free = std::find(used.begin(), used.end(), false);
  if (free == used.end()) {
    throw Error(EADDRNOTAVAIL,
                fmt::format("no free IPv6 address in network {} (the first {} of {})", network, end,
                            to_string(subnet)));
  }
  return subnet.host(static_cast<std::uint64_t>(free - used.begin()));
}

void check_requested_ipv6(const std::string& network, const std::optional<Ipv6Network>& subnet,
                          const std::optional<Ipv6Address>& gateway, const Ipv6Address& ip,
                          const std::vector<Attachment>& attachments) {
  const auto text = to_string(ip);
  if (!subnet) {
    throw_invalid("--ip6 {}: network {} has no IPv6 subnet (create it with --ipv6)", text, network);
  }
  if (!subnet->contains(ip)) {
    throw_invalid("--ip6 {} is not in subnet {} of network {}", text, to_string(*subnet), network);
  }
  if (ip == subnet->host(0) || (gateway && ip == *gateway)) {
    throw_invalid("--ip6 {} is reserved in network {} (subnet-router anycast or gateway address)",
                  text, network);
  }
  for (const auto& a : attachments) {
    if (a.network == network && a.ip6 && *a.ip6 == ip) {
      throw_invalid("--ip6 {} is already in use in network {} by container {}{}", text, network,
                    short_id(a.container_id),
                    a.container_name.empty() ? "" : " (" + a.container_name + ")");
    }
  }
}

std::string host_veth_name(const std::string& container_id) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : container_id) {
    h = (h ^ c) * 0x100000001b3ULL;
  }
  return fmt::format("gv{:012x}", h & 0xffffffffffffULL);
}

nlohmann::json to_json(const Attachment& a) {
  auto ports = nlohmann::json::array();
  for (const auto& p : a.ports) {
    ports.push_back(port_json(p));
  }
  return {{"Network", a.network},
          {"ContainerId", a.container_id},
          {"ContainerName", a.container_name},
          {"IPAddress", to_string(a.ip)},
          {"IPPrefixLen", a.prefix},
          {"Gateway", to_string(a.gateway)},
          {"MacAddress", to_string(a.mac)},
          {"GlobalIPv6Address", a.ip6 ? to_string(*a.ip6) : ""},
          {"GlobalIPv6PrefixLen", a.prefix6},
          {"IPv6Gateway", a.gateway6 ? to_string(*a.gateway6) : ""},
          {"Bridge", a.bridge},
          {"HostVeth", a.host_veth},
          {"Ports", ports},
          {"Aliases", a.aliases},
          {"Dns", a.dns},
          {"Nameserver", a.nameserver ? to_string(*a.nameserver) : ""}};
}

Attachment attachment_from_json(const nlohmann::json& j) {
  Attachment a;
  a.network = j.at("Network").get<std::string>();
  a.container_id = j.at("ContainerId").get<std::string>();
  a.container_name = j.value("ContainerName", "");
  a.ip = parse_ipv4(j.at("IPAddress").get<std::string>());
  a.prefix = j.at("IPPrefixLen").get<int>();
  a.gateway = parse_ipv4(j.at("Gateway").get<std::string>());
  a.mac = parse_mac(j.at("MacAddress").get<std::string>());
  if (const auto ip6 = j.value("GlobalIPv6Address", ""); !ip6.empty()) {
    a.ip6 = parse_ipv6(ip6);
    a.prefix6 = j.value("GlobalIPv6PrefixLen", 0);
  }
  if (const auto gateway6 = j.value("IPv6Gateway", ""); !gateway6.empty()) {
    a.gateway6 = parse_ipv6(gateway6);
  }
  a.bridge = j.at("Bridge").get<std::string>();
  a.host_veth = j.at("HostVeth").get<std::string>();
  for (const auto& p : j.value("Ports", nlohmann::json::array())) {
    a.ports.push_back(port_from_json(p));
  }
  a.aliases = j.value("Aliases", std::vector<std::string>{});
  a.dns = j.value("Dns", std::vector<std::string>{});
  if (const auto ns = j.value("Nameserver", ""); !ns.empty()) {
    a.nameserver = parse_ipv4(ns);
  }
  return a;
}

std::optional<Attachment> find_attachment(const std::filesystem::path& root,
                                          const std::string& container_id) {
  const auto file = endpoint_file(root, container_id);
  const auto j = try_load_json(file);
  if (!j) {
    return std::nullopt;
  }
  try {
    return attachment_from_json(*j);
  } catch (const std::exception& e) {
    throw_invalid("corrupt endpoint file {}: {}", file, e.what());
  }
}

std::vector<Attachment> list_attachments(const std::filesystem::path& root) {
  std::vector<Attachment> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(endpoints_dir(root), ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() == ".json" && !name.starts_with('.')) {
      if (auto a = find_attachment(root, entry.path().stem().string())) {
        out.push_back(std::move(*a));
      }
    }
  }
  return out;
}

void validate_publish(const std::filesystem::path& root, const std::vector<PortMapping>& ports) {
  validate_publish(list_attachments(root), ports);
}

namespace {

// The endpoint files of a container: <id>.json for the network it started on (its eth0 and
// default route), <id>+<network>.json for each network connected later (network names never
// hold '+').
std::string extra_key(const std::string& container_id, const std::string& network) {
  return container_id + "+" + network;
}

// The first ethN free in the namespace.
std::string free_interface_name(Netlink& inside) {
  const auto links = list_links(inside);
  for (int n = 0;; ++n) {
    const auto name = fmt::format("eth{}", n);
    if (std::none_of(links.begin(), links.end(),
                     [&](const LinkInfo& l) { return l.name == name; })) {
      return name;
    }
  }
}

// Connects netns to a network as attach() describes. The first endpoint of a container (`primary`)
// is eth0 with the default route; later ones are the next free ethN with their subnet's route.
Attachment attach_locked(const std::filesystem::path& root, const std::string& network_name,
                         const std::string& container_id, const std::string& container_name,
                         BorrowedFd netns, const AttachOptions& options, bool primary) {
  const Network network = network_name == kDefaultNetwork ? ensure_default_network_locked(root)
                                                          : find_network(root, network_name);
  const std::string key = primary ? container_id : extra_key(container_id, network.name);
  const auto file = endpoint_file(root, key);
  const auto attachments = list_attachments(root);
  for (const auto& other : attachments) {
    // One endpoint per network, and one first endpoint (its file is keyed by the id alone).
    if (other.container_id == container_id &&
        (other.network == network.name || (primary && std::filesystem::exists(file)))) {
      throw_invalid("container {} is already attached to network {}", container_id, other.network);
    }
  }
  ensure_bridge(network);

  Attachment a;
  a.network = network.name;
  a.container_id = container_id;
  a.container_name = container_name;
  a.prefix = network.subnet.prefix;
  a.gateway = network.gateway;
  a.bridge = network.bridge;
  a.host_veth = host_veth_name(key);
  a.aliases = options.aliases;
  a.dns = options.dns;
  a.ports = resolve_ports(attachments, options.publish);

  IpamStore ipam(root, network.name, network.subnet, network.gateway);
  a.ip = allocate_address(ipam, network.name, container_id, options.ip, attachments);
  ScopeExit undo_ip([&]() noexcept { best_effort([&] { ipam.release(container_id); }); });
  a.mac = options.mac ? *options.mac : mac_for(a.ip);
  if (options.ip6) {
    check_requested_ipv6(network.name, network.subnet6, network.gateway6, *options.ip6,
                         attachments);
  }
  if (network.subnet6 && network.gateway6) {
    a.ip6 = options.ip6
                ? *options.ip6
                : allocate_ipv6(*network.subnet6, *network.gateway6, network.name, attachments);
    a.prefix6 = network.subnet6->prefix;
    a.gateway6 = network.gateway6;
  }

  Netlink nl;
  // A veth left by a crash of an earlier attempt with the same id is stale.
  try_delete_link(nl, a.host_veth);
  const std::string peer = "gp" + a.host_veth.substr(2);
  create_veth(nl, a.host_veth, peer);
  ScopeExit undo_veth([&]() noexcept {
    best_effort([&] {
      Netlink cleanup;
      try_delete_link(cleanup, a.host_veth);
    });
  });
  set_link_master(nl, a.host_veth, network.bridge);
  set_link_up(nl, a.host_veth);
  set_link_mac(nl, peer, a.mac);
  move_link_to_netns(nl, peer, netns);
  {
    auto inside = Netlink::in_netns(netns);
    const std::string name = primary ? std::string("eth0") : free_interface_name(inside);
    rename_link(inside, peer, name);
    add_address(inside, name, a.ip, a.prefix);
    set_link_up(inside, name);
    set_link_up(inside, "lo");
    if (a.ip6) {
      add_address(inside, name, *a.ip6, a.prefix6);
    }
    // An internal network leads nowhere: Docker gives its containers no default route.
    if (primary && !network.internal) {
      add_default_route(inside, a.gateway);
      if (a.gateway6) {
        add_default_route(inside, *a.gateway6);
      }
    }
  }
  ScopeExit undo_rules(
      [&]() noexcept { best_effort([&] { remove_container_rules(container_id); }); });
  install_port_rules(container_id, a.ip, a.ports, a.ip6);
  // Started before the endpoint is recorded: a resolver that finds no endpoint waits two seconds
  // before it leaves, and one that is not needed after a failure below leaves by itself.
  ensure_resolver(root, network);
  if (network_has_resolver(network)) {
    a.nameserver = network.gateway;
  }
  std::filesystem::create_directories(file.parent_path());
  save_json(file, to_json(a));
  undo_rules.release();
  undo_veth.release();
  undo_ip.release();
  return a;
}

// Removes one endpoint: its veth (the kernel removes the peer inside), its address, its file,
// and the network's resolver when it was the network's last endpoint.
// What a network keeps on the host only while containers use it, released with its last
// endpoint: its resolver; and for the default network, which no user created and no command
// removes, its bridge and firewall rules too (the next attach's ensure_bridge makes them again).
// Called with the networks lock held.
void release_if_unused(const std::filesystem::path& root, const std::string& network) {
  const auto others = list_attachments(root);
  if (std::any_of(others.begin(), others.end(),
                  [&](const Attachment& o) { return o.network == network; })) {
    return;
  }
  stop_resolver(root, network);
  if (network != kDefaultNetwork) {
    return;
  }
  if (const auto n = try_find_network(root, network)) {
    {
      Netlink nl;
      try_delete_link(nl, n->bridge);
    }
    remove_network_rules(n->bridge);
  }
}

void remove_endpoint_locked(const std::filesystem::path& root, const Attachment& a,
                            const std::filesystem::path& file) {
  {
    Netlink nl;
    try_delete_link(nl, a.host_veth);
  }
  if (const auto n = try_find_network(root, a.network)) {
    IpamStore ipam(root, n->name, n->subnet, n->gateway);
    try {
      ipam.release(a.container_id);
    } catch (const Error&) {
      ipam.sync(endpoint_owners(list_attachments(root), n->name, a.container_id));
    }
  }
  std::filesystem::remove(file);
  release_if_unused(root, a.network);
}

}  // namespace

Attachment attach(const std::filesystem::path& root, const std::string& network_name,
                  const std::string& container_id, const std::string& container_name,
                  BorrowedFd netns, const AttachOptions& options) {
  const auto lock = lock_networks(root);
  return attach_locked(root, network_name, container_id, container_name, netns, options, true);
}

Attachment connect(const std::filesystem::path& root, const std::string& network_name,
                   const std::string& container_id, const std::string& container_name,
                   pid_t container_pid, const AttachOptions& options) {
  const auto netns = open_netns(container_pid);
  const auto lock = lock_networks(root);
  const bool primary = !find_attachment(root, container_id).has_value();
  return attach_locked(root, network_name, container_id, container_name, netns.borrow(), options,
                       primary);
}

bool disconnect_locked(const std::filesystem::path& root, const std::string& network_name,
                       const std::string& container_id) {
  if (const auto primary = find_attachment(root, container_id);
      primary && primary->network == network_name) {
    remove_container_rules(container_id);  // published ports live on the first network
    remove_endpoint_locked(root, *primary, endpoint_file(root, container_id));
    return true;
  }
  const auto key = extra_key(container_id, network_name);
  if (const auto extra = find_attachment(root, key)) {
    remove_endpoint_locked(root, *extra, endpoint_file(root, key));
    return true;
  }
  return false;
}

bool disconnect(const std::filesystem::path& root, const std::string& network_name,
                const std::string& container_id) {
  const auto lock = lock_networks(root);
  return disconnect_locked(root, find_network(root, network_name).name, container_id);
}

std::vector<Attachment> list_container_attachments(const std::filesystem::path& root,
                                                   const std::string& container_id) {
  std::vector<Attachment> out;
  for (auto& a : list_attachments(root)) {
    if (a.container_id == container_id) {
      out.push_back(std::move(a));
    }
  }
  return out;
}

Attachment attach(const std::filesystem::path& root, const std::string& network_name,
                  const std::string& container_id, const std::string& container_name,
                  pid_t container_pid, const AttachOptions& options) {
  const auto netns = open_netns(container_pid);
  return attach(root, network_name, container_id, container_name, netns.borrow(), options);
}

bool detach_locked(const std::filesystem::path& root, const std::string& container_id) {
  bool extras = false;
  for (const auto& a : list_attachments(root)) {
    if (a.container_id == container_id && a.host_veth != host_veth_name(container_id)) {
      remove_endpoint_locked(root, a, endpoint_file(root, extra_key(container_id, a.network)));
      extras = true;
    }
  }
  const auto file = endpoint_file(root, container_id);
  const auto attachment = find_attachment(root, container_id);
  bool changed = remove_container_rules(container_id);
  {
    Netlink nl;
    changed = try_delete_link(nl, host_veth_name(container_id)) || changed;
  }
  for (const auto& n : list_networks(root)) {
    if (!attachment || attachment->network == n.name) {
      IpamStore ipam(root, n.name, n.subnet, n.gateway);
      try {
        changed = ipam.release(container_id).has_value() || changed;
      } catch (const Error&) {
        // A damaged pool must not keep the container: it is rebuilt from the other endpoints.
        changed =
            ipam.sync(endpoint_owners(list_attachments(root), n.name, container_id)) > 0 || changed;
      }
    }
  }
  if (attachment) {
    std::filesystem::remove(file);
    changed = true;
    release_if_unused(root, attachment->network);
  }
  return changed || extras;
}

bool detach(const std::filesystem::path& root, const std::string& container_id) {
  const auto lock = lock_networks(root);
  return detach_locked(root, container_id);
}

std::size_t reconcile(const std::filesystem::path& root, const std::set<std::string>& live_ids) {
  std::error_code ec;
  if (!std::filesystem::is_directory(networks_dir(root), ec)) {
    return 0;  // networks were never used here
  }
  const auto lock = lock_networks(root);
  std::size_t released = 0;
  std::vector<Attachment> live;
  for (auto& a : list_attachments(root)) {
    if (!live_ids.contains(a.container_id)) {
      detach_locked(root, a.container_id);
      ++released;
    } else {
      live.push_back(std::move(a));
    }
  }
  // The live endpoints are the truth: each pool is brought to them, rebuilt when damaged.
  for (const auto& n : list_networks(root)) {
    released += IpamStore(root, n.name, n.subnet, n.gateway).sync(endpoint_owners(live, n.name));
  }
  return released;
}

}  // namespace gctool::net
