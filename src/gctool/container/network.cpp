#include "gctool/container/network.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "gctool/container/namespace_modes.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/event_journal.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/dns_files.hpp"
#include "gctool/net/network.hpp"
#include "gctool/net/resolver.hpp"

namespace gctool::container {

namespace fsys = std::filesystem;

namespace {

constexpr std::string_view kHostGateway = "host-gateway";

bool valid_host_name(std::string_view name) {
  const auto ok = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
  };
  return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), ok) &&
         name.front() != '-' && name.front() != '.';
}

// "NAME:IP" (or Docker's newer "NAME=IP") split in two; an IPv6 address may be in brackets
// ("NAME:[fd00::1]"), which are dropped.
std::pair<std::string, std::string> split_extra_host(std::string_view entry) {
  const auto sep = entry.find_first_of("=:");
  if (sep == std::string_view::npos) {
    return {std::string(entry), ""};
  }
  auto ip = entry.substr(sep + 1);
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') {
    ip = ip.substr(1, ip.size() - 2);
  }
  return {std::string(entry.substr(0, sep)), std::string(ip)};
}

// "NAME[:ALIAS]" split in two; the alias defaults to the name.
std::pair<std::string, std::string> split_link(std::string_view link) {
  const auto colon = link.find(':');
  if (colon == std::string_view::npos) {
    return {std::string(link), std::string(link)};
  }
  return {std::string(link.substr(0, colon)), std::string(link.substr(colon + 1))};
}

// The running container a --link names, on the same network.
const net::Attachment& link_target(const std::vector<net::Attachment>& attachments,
                                   const std::string& network, const std::string& name) {
  for (const auto& a : attachments) {
    if (a.container_name == name || (name.size() >= 12 && a.container_id.starts_with(name))) {
      if (a.network != network) {
        throw_invalid("--link {}: container {} is on network {}, not on {}", name, name, a.network,
                      network);
      }
      return a;
    }
  }
  throw_invalid("--link {}: no running container {} on network {}", name, name, network);
}

void validate_dns_flags(const Spec& spec) {
  for (const auto& entry : spec.extra_hosts) {
    const auto [name, ip] = split_extra_host(entry);
    if (!valid_host_name(name) ||
        (ip != kHostGateway && !net::try_parse_ipv4(ip) && !net::try_parse_ipv6(ip))) {
      throw_invalid(
          "invalid --add-host \"{}\": expected NAME:IP (IPv4 or IPv6) or NAME:host-gateway", entry);
    }
    if (ip == kHostGateway && spec.network_mode == "none") {
      throw_invalid("--add-host {}: host-gateway needs a network (not --network none)", entry);
    }
  }
  for (const auto& domain : spec.dns_search) {
    if (!valid_host_name(domain) && domain != ".") {
      throw_invalid("invalid --dns-search \"{}\"", domain);
    }
  }
  for (const auto& option : spec.dns_options) {
    if (option.empty() || option.find_first_of(" \t\n") != std::string::npos) {
      throw_invalid("invalid --dns-option \"{}\"", option);
    }
  }
  for (const auto& alias : spec.network_aliases) {
    if (!valid_host_name(alias)) {
      throw_invalid("invalid --network-alias \"{}\"", alias);
    }
  }
}

// --ip6 on the network (nullopt: the default network, not created yet, which has no IPv6).
void check_requested_ipv6(const std::string& name, const std::optional<net::Network>& network,
                          const net::Ipv6Address& ip,
                          const std::vector<net::Attachment>& attachments) {
  net::check_requested_ipv6(name, network ? network->subnet6 : std::nullopt,
                            network ? network->gateway6 : std::nullopt, ip, attachments);
}

}  // namespace

void validate_network(const fsys::path& root, const Spec& spec) {
  const std::string& mode = spec.network_mode;
  validate_dns_flags(spec);
  if (!attaches_to_network(spec)) {
    if (!spec.network_aliases.empty()) {
      throw_invalid("conflicting options: --network-alias cannot be used with --network {}", mode);
    }
    if (!spec.links.empty()) {
      throw_invalid("conflicting options: --link cannot be used with --network {}", mode);
    }
    if (!spec.publish.empty()) {
      throw_invalid("conflicting options: -p/--publish cannot be used with --network {}", mode);
    }
    if (spec.ip) {
      throw_invalid("conflicting options: --ip cannot be used with --network {}", mode);
    }
    if (spec.ip6) {
      throw_invalid("conflicting options: --ip6 cannot be used with --network {}", mode);
    }
    if (spec.mac) {
      throw_invalid("conflicting options: --mac-address cannot be used with --network {}", mode);
    }
    return;
  }
  const std::string name = network_name_of(mode);
  net::check_network_name(name);
  if (name == net::kDefaultNetwork && !spec.network_aliases.empty()) {
    throw_invalid("network-scoped aliases are only supported for user-defined networks");
  }
  if (!spec.links.empty()) {
    const auto attachments = net::list_attachments(root);
    for (const auto& link : spec.links) {
      const auto [target, alias] = split_link(link);
      if (!valid_host_name(target) || !valid_host_name(alias)) {
        throw_invalid("invalid --link \"{}\": expected NAME[:ALIAS]", link);
      }
      link_target(attachments, name, target);
    }
  }
  const auto network = net::try_find_network(root, name);
  if (!network && name != net::kDefaultNetwork) {
    throw_invalid("network {} not found", name);
  }
  if (network && spec.ip) {
    const auto& subnet = network->subnet;
    if (!subnet.contains(*spec.ip)) {
      throw_invalid("--ip {} is not in subnet {} of network {}", net::to_string(*spec.ip),
                    net::to_string(subnet), name);
    }
    if (*spec.ip == subnet.network() || *spec.ip == subnet.broadcast() ||
        *spec.ip == network->gateway) {
      throw_invalid("--ip {} is reserved in network {} (network, broadcast or gateway address)",
                    net::to_string(*spec.ip), name);
    }
    // The endpoints, not the IPAM pool (which may have been damaged or rolled back), say which
    // addresses are held; attach() checks again under the networks lock.
    for (const auto& a : net::list_attachments(root)) {
      if (a.network == name && a.ip == *spec.ip) {
        throw_invalid("--ip {} is already in use in network {} by container {}{}",
                      net::to_string(*spec.ip), name, short_id(a.container_id),
                      a.container_name.empty() ? "" : " (" + a.container_name + ")");
      }
    }
  }
  if (spec.ip6) {
    // attach() checks again under the networks lock.
    check_requested_ipv6(name, network, *spec.ip6, net::list_attachments(root));
  }
  net::validate_publish(root, spec.publish);
}

bool attaches_to_network(const Spec& spec) noexcept {
  return spec.network_mode != "none" && own_network_namespace(spec);
}

bool own_network_namespace(const Spec& spec) noexcept {
  return spec.network_mode != "host" && mode_container(spec.network_mode).empty();
}

namespace {

// The names /etc/hosts gives the container's own address, as Docker's: the full name, then the
// bare host name when they differ ("web.example.com web"); then the container's name as an alias.
std::string host_names(const Record& record) {
  std::string fqdn = record.hostname;
  if (!record.spec.domainname.empty()) {
    fqdn += "." + record.spec.domainname;
  }
  std::string names = fqdn;
  if (const auto dot = fqdn.find('.'); dot != std::string::npos) {
    names += " " + fqdn.substr(0, dot);
  }
  if (!record.name.empty() && record.name != record.hostname) {
    names += " " + record.name;
  }
  return names;
}

}  // namespace

void write_network_files(const fsys::path& root, const fsys::path& dir, const Record& record) {
  const Spec& spec = record.spec;
  const auto host_resolv = try_read_file(net::host_resolv_conf_path()).value_or("");
  std::string hosts;
  std::string resolv;
  net::ResolvConfOptions dns{spec.dns, spec.dns_search, spec.dns_options, std::nullopt};
  // host-gateway: the host's address as the container sees it.
  std::string gateway = "127.0.0.1";
  if (!own_network_namespace(spec)) {
    // The host's namespace: its resolver, loopback or not, is reachable.
    hosts = try_read_file("/etc/hosts").value_or(net::hosts_file_content("localhost", {}));
    resolv = spec.dns.empty() && spec.dns_search.empty() && spec.dns_options.empty()
                 ? host_resolv
                 : net::resolv_conf_content(host_resolv, dns);
  } else {
    const std::string names = host_names(record);
    hosts = net::hosts_file_content(
        names, record.network ? std::optional(record.network->ip) : std::nullopt);
    // Its IPv6 address under the same names, as Docker writes it after the IPv4 line.
    if (record.network && record.network->ip6) {
      hosts += fmt::format("{}\t{}\n", net::to_string(*record.network->ip6), names);
    }
    if (record.network) {
      gateway = net::to_string(record.network->gateway);
      dns.resolver = record.network->nameserver;
    }
    // The addresses of networks connected later name the container too, as Docker's; the first
    // of them with a resolver answers when the first network has none (the default one).
    for (const auto& a : net::list_container_attachments(root, record.id)) {
      if (record.network && a.network == record.network->network) {
        continue;
      }
      hosts += fmt::format("{}\t{}\n", net::to_string(a.ip), names);
      if (a.ip6) {
        hosts += fmt::format("{}\t{}\n", net::to_string(*a.ip6), names);
      }
      if (!dns.resolver) {
        dns.resolver = a.nameserver;
      }
    }
    resolv = net::resolv_conf_content(host_resolv, dns);
  }
  // --link: the linked containers under their alias and name, as Docker's /etc/hosts.
  if (record.network && !spec.links.empty()) {
    const auto attachments = net::list_attachments(root);
    for (const auto& link : spec.links) {
      const auto [target, alias] = split_link(link);
      const auto& a = link_target(attachments, record.network->network, target);
      hosts += alias == target ? fmt::format("{}\t{}\n", net::to_string(a.ip), target)
                               : fmt::format("{}\t{} {}\n", net::to_string(a.ip), alias, target);
    }
  }
  for (const auto& entry : spec.extra_hosts) {
    const auto [name, ip] = split_extra_host(entry);
    hosts += fmt::format("{}\t{}\n", ip == kHostGateway ? gateway : ip, name);
  }
  write_file(dir / "hosts", hosts);
  write_file(dir / "resolv.conf", resolv);
}

void setup_network(const fsys::path& root, const fsys::path& dir, Record& record, pid_t pid) {
  if (!attaches_to_network(record.spec)) {
    return;
  }
  if (net::find_attachment(root, record.id)) {
    net::detach(root, record.id);
  }
  if (!record.spec.network_mode_disconnected) {
    net::AttachOptions options;
    options.ip = record.spec.ip;
    options.ip6 = record.spec.ip6;
    options.mac = record.spec.mac;
    options.publish = record.spec.publish;
    options.aliases = record.spec.network_aliases;
    options.dns = record.spec.dns;
    record.network = net::attach(root, network_name_of(record.spec.network_mode), record.id,
                                 record.name, pid, options);
  }
  // The networks connected before a stop or restart come back (the caller detaches all of them
  // if one fails).
  for (const auto& c : record.spec.connected_networks) {
    net::AttachOptions options;
    options.ip = c.ip;
    options.ip6 = c.ip6;
    options.aliases = c.aliases;
    options.dns = record.spec.dns;
    auto a = net::connect(root, c.network, record.id, record.name, pid, options);
    if (!record.network) {
      record.network = std::move(a);
    }
  }
  write_network_files(root, dir, record);
}

std::vector<net::ProxyListener> open_port_proxies(const Record& record) {
  std::vector<net::ProxyListener> proxies;
  if (!record.network) {
    return proxies;
  }
  const auto& a = *record.network;
  for (const auto& p : a.ports) {
    if (p.host_ip || p.protocol != net::Protocol::tcp) {
      continue;  // [::1] belongs to "all addresses" only; UDP is not proxied
    }
    net::ProxyListener proxy;
    proxy.listener = net::listen_ipv6_loopback(p.host_port);
    if (!proxy.listener.valid()) {
      break;  // no IPv6 loopback on this host
    }
    net::set_proxy_target(proxy, a.ip6 ? net::to_string(*a.ip6) : net::to_string(a.ip),
                          p.container_port);
    proxies.push_back(std::move(proxy));
  }
  return proxies;
}

void teardown_network(const fsys::path& root, Record& record) noexcept {
  if (!attaches_to_network(record.spec) && !record.network) {
    return;
  }
  try {
    net::detach(root, record.id);
  } catch (const std::exception&) {
    // Best effort: the next reconcile (ps, rm) detaches what is left.
  }
  record.network.reset();
}

namespace {

// The container `ref`, which must have a network namespace of its own.
Record network_record(const ContainerStore& store, std::string_view ref) {
  const std::string id = store.resolve(ref);
  auto record = store.load(id);
  if (!record) {
    throw_invalid("no such container: {}", ref);
  }
  if (!attaches_to_network(record->spec)) {
    throw_invalid("container {} uses --network {}: it cannot join other networks", ref,
                  record->spec.network_mode);
  }
  return std::move(*record);
}

bool is_running(const Record& record) {
  return record.running() &&
         process_matches(record.state.process.pid, record.state.process.start_time);
}

// Whether the container's settings (not its endpoints) name the network.
bool remembers(const Spec& spec, const std::string& network) {
  return (network_name_of(spec.network_mode) == network && !spec.network_mode_disconnected) ||
         std::any_of(spec.connected_networks.begin(), spec.connected_networks.end(),
                     [&](const NetworkConnection& c) { return c.network == network; });
}

// Remembers a connect, so that the next start attaches the network again.
void remember_connect(Spec& spec, const std::string& network, const net::AttachOptions& options) {
  if (network_name_of(spec.network_mode) == network) {
    spec.network_mode_disconnected = false;
    return;
  }
  spec.connected_networks.push_back({network, options.ip, options.ip6, options.aliases});
}

void remember_disconnect(Spec& spec, const std::string& network) {
  if (network_name_of(spec.network_mode) == network) {
    spec.network_mode_disconnected = true;
  }
  std::erase_if(spec.connected_networks,
                [&](const NetworkConnection& c) { return c.network == network; });
}

// Rewrites the running container's /etc/hosts and resolv.conf in place (they are bind mounts of
// these files), as Docker does on connect and disconnect. The change is made already; a failure
// here must not undo it, so it is not reported.
void refresh_network_files(const ContainerStore& store, const Record& record) noexcept {
  try {
    write_network_files(store.root(), store.dir(record.id), record);
  } catch (const std::exception&) {
  }
}

}  // namespace

net::Attachment connect_container(const ContainerStore& store, std::string_view ref,
                                  const std::string& network, const net::AttachOptions& options) {
  const auto lock = store.lock();
  Record record = network_record(store, ref);
  const auto found = net::try_find_network(store.root(), network);
  if (!found) {
    throw_invalid("network {} not found", network);
  }
  if (!is_running(record) && remembers(record.spec, found->name)) {
    throw_invalid("container {} is already attached to network {}", ref, found->name);
  }
  if (options.ip && !found->subnet.contains(*options.ip)) {
    throw_invalid("--ip {} is not in subnet {} of network {}", net::to_string(*options.ip),
                  net::to_string(found->subnet), found->name);
  }
  if (options.ip6) {
    check_requested_ipv6(found->name, found, *options.ip6, net::list_attachments(store.root()));
  }
  if (found->name == net::kDefaultNetwork && !options.aliases.empty()) {
    throw_invalid("network-scoped aliases are only supported for user-defined networks");
  }
  for (const auto& alias : options.aliases) {
    if (!valid_host_name(alias)) {
      throw_invalid("invalid --alias \"{}\"", alias);
    }
  }
  remember_connect(record.spec, found->name, options);
  const Event event{"network",
                    "connect",
                    found->id,
                    {{"container", record.id}, {"name", found->name}, {"type", "bridge"}}};
  if (!is_running(record)) {
    // Docker's way: a stopped container joins the network when it starts.
    store.save(record, Durability::durable);
    record_event(store.root(), event);
    return {};
  }
  auto with_dns = options;
  with_dns.dns = record.spec.dns;
  const auto a = net::connect(store.root(), found->name, record.id, record.name,
                              record.state.process.pid, with_dns);
  if (!record.network) {
    record.network = a;
  }
  store.save(record, Durability::durable);
  refresh_network_files(store, record);
  record_event(store.root(), event);
  return a;
}

void disconnect_container(const ContainerStore& store, std::string_view ref,
                          const std::string& network) {
  const auto lock = store.lock();
  Record record = network_record(store, ref);
  const auto found = net::try_find_network(store.root(), network);
  if (!found) {
    throw_invalid("network {} not found", network);
  }
  const bool running = is_running(record);
  if (running ? !net::disconnect(store.root(), found->name, record.id)
              : !remembers(record.spec, found->name)) {
    throw_invalid("container {} is not connected to network {}", ref, found->name);
  }
  remember_disconnect(record.spec, found->name);
  if (record.network && record.network->network == found->name) {
    record.network.reset();
  }
  store.save(record, Durability::durable);
  if (running) {
    refresh_network_files(store, record);
  }
  record_event(store.root(),
               {"network",
                "disconnect",
                found->id,
                {{"container", record.id}, {"name", found->name}, {"type", "bridge"}}});
}

}  // namespace gctool::container
