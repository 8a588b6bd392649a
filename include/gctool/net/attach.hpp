// Connecting containers to networks: the entry points for `gctool run` and its cleanup.
//
//   Before creating anything:   net::validate_publish(root, ports)
//   After clone, before exec:   auto a = net::attach(root, network, id, name, pid, options);
//                               write hosts_file_content(...) and resolv_conf_content(...)
//                               record a.ip, a.mac, a.ports in the container's state
//   When the container is gone: net::detach(root, id)     (idempotent, safe after a crash)
//   When reading state:         net::reconcile(root, live_container_ids)
//
// An attachment is recorded in <root>/networks/endpoints/<container_id>.json (a network connected
// later in <container_id>+<network>.json); detach and reconcile work from them, so the caller needs
// to remember nothing but the container id.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gctool/core/fd.hpp"
#include "gctool/net/ipv4.hpp"
#include "gctool/net/ipv6.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/ports.hpp"

namespace gctool::net {

struct AttachOptions {
  std::optional<Ipv4Address> ip;     // --ip: this address or an error
  std::optional<Ipv6Address> ip6;    // --ip6: this address (see check_requested_ipv6) or an error
  std::vector<PortMapping> publish;  // -p; host_port 0 gets a free port
  std::optional<MacAddress> mac;     // --mac-address; default mac_for(ip)
  std::vector<std::string> aliases;  // --network-alias: more names for the network's resolver
  std::vector<std::string> dns;      // --dns: where the resolver forwards this container's names
};

struct Attachment {
  std::string network;
  std::string container_id;
  std::string container_name;
  Ipv4Address ip;
  int prefix = 0;
  Ipv4Address gateway;
  MacAddress mac;
  // On a network with an IPv6 subnet: the container's address there, and the bridge's.
  std::optional<Ipv6Address> ip6;
  int prefix6 = 0;
  std::optional<Ipv6Address> gateway6;
  std::string bridge;
  std::string host_veth;           // the host end; the container's end is eth0
  std::vector<PortMapping> ports;  // host ports resolved
  std::vector<std::string> aliases;
  std::vector<std::string> dns;
  // The network's resolver (its gateway address), when the network has one (see resolver.hpp).
  std::optional<Ipv4Address> nameserver;
};

// Checks -p mappings before anything is created: no two of them conflict, none is published by
// another gctool container, none is bound by a host process. Throws a one-line invalid-input
// Error, e.g. `port 8080/tcp is already published by container 3f2a...`.
void validate_publish(const std::filesystem::path& root, const std::vector<PortMapping>& ports);

// Connects the network namespace `netns` to the network: allocates the address, creates the veth
// pair (host end on the bridge, eth0 inside with address, MAC and default route, lo up; on an
// IPv6 network an IPv6 address and default route too, see allocate_ipv6), installs
// the port rules, records the attachment and starts the network's resolver if it has none. All or
// nothing: on failure everything done is undone. The network `bridge` is created by this call when
// it does not exist yet.
Attachment attach(const std::filesystem::path& root, const std::string& network_name,
                  const std::string& container_id, const std::string& container_name,
                  BorrowedFd netns, const AttachOptions& options = {});
// As above, with the network namespace of a process (the container's init).
Attachment attach(const std::filesystem::path& root, const std::string& network_name,
                  const std::string& container_id, const std::string& container_name,
                  pid_t container_pid, const AttachOptions& options = {});

// `network connect`: connects a running container's namespace to one more network, as the next
// free ethN with the subnet's route only (a container without an endpoint gets eth0 and the
// default route, as attach). Refused when it is on that network already.
Attachment connect(const std::filesystem::path& root, const std::string& network_name,
                   const std::string& container_id, const std::string& container_name,
                   pid_t container_pid, const AttachOptions& options = {});

// `network disconnect`: removes the container's endpoint on that network (its interface inside
// goes with the veth; on the first network its published ports go too). False when it had none.
bool disconnect(const std::filesystem::path& root, const std::string& network_name,
                const std::string& container_id);

// Every endpoint of a container (the first network's and those connected later).
std::vector<Attachment> list_container_attachments(const std::filesystem::path& root,
                                                   const std::string& container_id);

// Undoes attach (and every connect): removes the port rules, deletes the host veth if it still
// exists (the kernel deletes it with the namespace otherwise), releases the address, forgets the
// attachment, and stops the network's resolver when no container is left on it. Idempotent; true
// when there was something to undo.
bool detach(const std::filesystem::path& root, const std::string& container_id);

std::optional<Attachment> find_attachment(const std::filesystem::path& root,
                                          const std::string& container_id);
std::vector<Attachment> list_attachments(const std::filesystem::path& root);

// Detaches every container not in live_ids, then brings each network's IPAM pool to the live
// endpoints (they are the truth): owners without one are freed, and a pool that is damaged or
// disagrees (a rolled-back journal, say) is rebuilt from them. Returns how many attachments and
// addresses were released or corrected. attach() checks an explicit --ip against the endpoints
// too, and rebuilds a pool that cannot answer or answers an address an endpoint holds.
// Taking the networks lock, it also finishes network creates and removes cut short by a crash;
// nothing (no lock) when networks were never used.
std::size_t reconcile(const std::filesystem::path& root, const std::set<std::string>& live_ids);

// The lowest free IPv6 address of the network's subnet among its first kIpv6Window addresses
// (not the subnet's first address, the subnet-router anycast one, nor the gateway), or a one-line
// error when all are taken. No bitmap as for IPv4 (a /64 would need 2^64 bits): the endpoints,
// read under the networks lock, are the allocation, so an address is free again as soon as its
// endpoint file is gone, whatever path removed it.
inline constexpr std::uint64_t kIpv6Window = 65536;
Ipv6Address allocate_ipv6(const Ipv6Network& subnet, const Ipv6Address& gateway,
                          const std::string& network, const std::vector<Attachment>& attachments);

// --ip6 on the network: throws a one-line invalid-input Error unless the network has an IPv6
// subnet holding ip, ip is neither the subnet's first address (subnet-router anycast) nor the
// gateway, and no endpoint of the network holds it.
void check_requested_ipv6(const std::string& network, const std::optional<Ipv6Network>& subnet,
                          const std::optional<Ipv6Address>& gateway, const Ipv6Address& ip,
                          const std::vector<Attachment>& attachments);

// The name of the host end of a container's veth pair: "gv" + 12 hex digits of a hash of the id.
std::string host_veth_name(const std::string& container_id);

nlohmann::json to_json(const Attachment& attachment);
Attachment attachment_from_json(const nlohmann::json& json);

}  // namespace gctool::net
