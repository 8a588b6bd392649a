// Connecting containers to networks: the entry points for `gctool run` and its cleanup.
//
//   Before creating anything:   net::validate_publish(root, ports)
//   After clone, before exec:   auto a = net::attach(root, network, id, name, pid, options);
//                               write hosts_file_content(...) and resolv_conf_content(...)
//                               record a.ip, a.mac, a.ports in the container's state
//   When the container is gone: net::detach(root, id)     (idempotent, safe after a crash)
//   When reading state:         net::reconcile(root, live_container_ids)
//
// An attachment is recorded in <root>/networks/endpoints/<container_id>.json; detach and
// reconcile work from it, so the caller needs to remember nothing but the container id.
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
#include "gctool/net/link.hpp"
#include "gctool/net/ports.hpp"

namespace gctool::net {

struct AttachOptions {
  std::optional<Ipv4Address> ip;     // --ip: this address or an error
  std::vector<PortMapping> publish;  // -p; host_port 0 gets a free port
  std::optional<MacAddress> mac;     // --mac-address; default mac_for(ip)
};

struct Attachment {
  std::string network;
  std::string container_id;
  std::string container_name;
  Ipv4Address ip;
  int prefix = 0;
  Ipv4Address gateway;
  MacAddress mac;
  std::string bridge;
  std::string host_veth;           // the host end; the container's end is eth0
  std::vector<PortMapping> ports;  // host ports resolved
};

// Checks -p mappings before anything is created: no two of them conflict, none is published by
// another gctool container, none is bound by a host process. Throws a one-line invalid-input
// Error, e.g. `port 8080/tcp is already published by container 3f2a...`.
void validate_publish(const std::filesystem::path& root, const std::vector<PortMapping>& ports);

// Connects the network namespace `netns` to the network: allocates the address, creates the veth
// pair (host end on the bridge, eth0 inside with address, MAC and default route, lo up), installs
// the port rules, and records the attachment. All or nothing: on failure everything done is
// undone. The network `bridge` is created by this call when it does not exist yet.
Attachment attach(const std::filesystem::path& root, const std::string& network_name,
                  const std::string& container_id, const std::string& container_name,
                  BorrowedFd netns, const AttachOptions& options = {});
// As above, with the network namespace of a process (the container's init).
Attachment attach(const std::filesystem::path& root, const std::string& network_name,
                  const std::string& container_id, const std::string& container_name,
                  pid_t container_pid, const AttachOptions& options = {});

// Undoes attach: removes the port rules, deletes the host veth if it still exists (the kernel
// deletes it with the namespace otherwise), releases the address, forgets the attachment.
// Idempotent; true when there was something to undo.
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

// The name of the host end of a container's veth pair: "gv" + 12 hex digits of a hash of the id.
std::string host_veth_name(const std::string& container_id);

nlohmann::json to_json(const Attachment& attachment);
Attachment attachment_from_json(const nlohmann::json& json);

}  // namespace gctool::net
