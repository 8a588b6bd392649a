#include "gctool/container/network.hpp"

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/dns_files.hpp"
#include "gctool/net/network.hpp"

namespace gctool::container {

namespace fsys = std::filesystem;

void validate_network(const fsys::path& root, const Spec& spec) {
  const std::string& mode = spec.network_mode;
  if (!attaches_to_network(spec)) {
    if (!spec.publish.empty()) {
      throw_invalid("conflicting options: -p/--publish cannot be used with --network {}", mode);
    }
    if (spec.ip) {
      throw_invalid("conflicting options: --ip cannot be used with --network {}", mode);
    }
    if (spec.mac) {
      throw_invalid("conflicting options: --mac-address cannot be used with --network {}", mode);
    }
    return;
  }
  const std::string name = network_name_of(mode);
  net::check_network_name(name);
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
  net::validate_publish(root, spec.publish);
}

bool attaches_to_network(const Spec& spec) noexcept {
  return spec.network_mode != "none" && spec.network_mode != "host";
}

bool own_network_namespace(const Spec& spec) noexcept {
  return spec.network_mode != "host";
}

void write_network_files(const fsys::path& dir, const Record& record) {
  const Spec& spec = record.spec;
  const auto host_resolv = try_read_file("/etc/resolv.conf").value_or("");
  std::string hosts;
  std::string resolv;
  if (!own_network_namespace(spec)) {
    // The host's namespace: its resolver, loopback or not, is reachable.
    hosts = try_read_file("/etc/hosts").value_or(net::hosts_file_content("localhost", {}));
    resolv = spec.dns.empty() ? host_resolv : net::resolv_conf_content(host_resolv, spec.dns);
  } else {
    // The container's name resolves too, as an alias of its hostname.
    const std::string names = record.name.empty() || record.name == record.hostname
                                  ? record.hostname
                                  : fmt::format("{} {}", record.hostname, record.name);
    hosts = net::hosts_file_content(
        names, record.network ? std::optional(record.network->ip) : std::nullopt);
    resolv = net::resolv_conf_content(host_resolv, spec.dns);
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
  net::AttachOptions options;
  options.ip = record.spec.ip;
  options.mac = record.spec.mac;
  options.publish = record.spec.publish;
  record.network = net::attach(root, network_name_of(record.spec.network_mode), record.id,
                               record.name, pid, options);
  write_network_files(dir, record);
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

}  // namespace gctool::container
