// The runtime's network step. A container gets its own network namespace unless its mode is
// "host"; the init brings loopback up in it ("none" stops there). For a bridge network, the
// parent attaches the waiting init's namespace between clone and release (setup_network) and
// detaches it when the container has exited (teardown_network), following gctool/net/attach.hpp.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "gctool/container/spec.hpp"
#include "gctool/container/state.hpp"
#include "gctool/container/store.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/port_proxy.hpp"

namespace gctool::container {

// Checks the network part of a spec before anything is created: a named network exists, --ip
// lies in its subnet, -p/--ip/--mac-address/--network-alias/--link are not combined with none or
// host, --add-host, --dns-search, --dns-option are well formed, --link names a running container
// on the same network, and the
// published host ports are free (net::validate_publish). Throws a one-line Error.
void validate_network(const std::filesystem::path& root, const Spec& spec);

// Whether the container joins a network through a veth (every mode but "none", "host" and
// "container:NAME").
bool attaches_to_network(const Spec& spec) noexcept;
// Whether the container gets a network namespace of its own (every mode but "host" and
// "container:NAME", which shares another container's).
bool own_network_namespace(const Spec& spec) noexcept;

// Writes <dir>/hosts and <dir>/resolv.conf, which the init binds on /etc/hosts and
// /etc/resolv.conf: with "host" copies of the host's files (--dns replacing the nameservers),
// otherwise localhost plus the container's hostname and name on its address (127.0.1.1 before it
// has one) and the host's resolver unless that is a loopback one (then --dns, or a comment).
// On a user-defined network with a resolver, resolv.conf names it alone (--dns servers become
// its upstreams); --dns-search, --dns-option, --add-host (host-gateway: the network's gateway)
// and --link (the linked container's address, looked up in the network's endpoints) as Docker.
void write_network_files(const std::filesystem::path& root, const std::filesystem::path& dir,
                         const Record& record);

// Attaches the namespace of the waiting init `pid` to the container's network (an attachment
// left by an earlier run of the same container is dropped first), records it in
// record.network and rewrites the hosts file with the address. Nothing for none and host.
void setup_network(const std::filesystem::path& root, const std::filesystem::path& dir,
                   Record& record, pid_t pid);

// The listeners of the [::1] proxy (net/port_proxy.hpp) for the container's TCP ports published
// on all addresses, bound now; none when the host has no IPv6 loopback. Throws when such a port is
// taken on [::1].
std::vector<net::ProxyListener> open_port_proxies(const Record& record);

// Detaches the container (port rules, veth, address; idempotent, also after a crash) and clears
// record.network. Never throws.
void teardown_network(const std::filesystem::path& root, Record& record) noexcept;

// `network connect NETWORK CONTAINER`: the running container gets one more interface on the
// network (net::connect); with no network left it becomes its first. One line, exit 125, nothing
// changed, when the container is not running, uses none/host, or the network is unknown.
net::Attachment connect_container(const ContainerStore& store, std::string_view ref,
                                  const std::string& network, const net::AttachOptions& options);

// `network disconnect NETWORK CONTAINER`: removes the container's interface on that network.
void disconnect_container(const ContainerStore& store, std::string_view ref,
                          const std::string& network);

}  // namespace gctool::container
