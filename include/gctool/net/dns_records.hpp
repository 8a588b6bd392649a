// What a network's resolver answers from: the endpoints of <root>/networks/endpoints/*.json on
// that network (container name, the first 12 digits of its id, its --network-alias names) and each
// endpoint's own upstream servers (--dns). Re-read when the directory has changed, so a container
// that starts, stops, connects or disconnects is seen by the next query.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/net/ipv4.hpp"
#include "gctool/net/ipv6.hpp"

namespace gctool::net {

struct DnsEndpoint {
  std::string container_id;
  Ipv4Address ip;
  std::optional<Ipv6Address> ip6;  // on a network with an IPv6 subnet
  std::vector<std::string> names;  // lower case: name, short id, full id, aliases
  std::vector<Ipv4Address> dns;    // --dns: where this container's other names go
};

class DnsRecords {
 public:
  DnsRecords(std::filesystem::path root, std::string network);

  // Re-reads the endpoints when the directory changed since the last read (or recently enough
  // that a change may hide in the same timestamp). A damaged file is skipped.
  void refresh();

  // The addresses of a name (lower case, no final dot) on this network; empty when unknown.
  std::vector<Ipv4Address> lookup(std::string_view name) const;
  // The IPv6 addresses of a name; empty when unknown or when its endpoints have none.
  std::vector<Ipv6Address> lookup6(std::string_view name) const;
  // The endpoint with this address, if any.
  const DnsEndpoint* endpoint_of(Ipv4Address ip) const;
  const std::vector<DnsEndpoint>& endpoints() const noexcept { return endpoints_; }

 private:
  std::filesystem::path dir_;
  std::string network_;
  std::vector<DnsEndpoint> endpoints_;
  std::optional<timespec> read_mtime_;
};

// The nameserver addresses (IPv4) of a resolv.conf text, in order.
std::vector<Ipv4Address> resolv_conf_nameservers(std::string_view text);

}  // namespace gctool::net
