// The runtime's network step. A container gets its own network namespace unless its mode is
// "host"; the init brings loopback up in it ("none" stops there). For a bridge network, the
// parent attaches the waiting init's namespace between clone and release (setup_network) and
// detaches it when the container has exited (teardown_network), following gctool/net/attach.hpp.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "gctool/container/spec.hpp"
#include "gctool/container/state.hpp"

namespace gctool::container {

// Checks the network part of a spec before anything is created: a named network exists, --ip
// lies in its subnet, -p/--ip/--mac-address are not combined with none or host, and the
// published host ports are free (net::validate_publish). Throws a one-line Error.
void validate_network(const std::filesystem::path& root, const Spec& spec);

// Whether the container joins a network through a veth (every mode but "none" and "host").
bool attaches_to_network(const Spec& spec) noexcept;
// Whether the container gets a network namespace of its own (every mode but "host").
bool own_network_namespace(const Spec& spec) noexcept;

// Writes <dir>/hosts and <dir>/resolv.conf, which the init binds on /etc/hosts and
// /etc/resolv.conf: with "host" copies of the host's files (--dns replacing the nameservers),
// otherwise localhost plus the container's hostname and name on its address (127.0.1.1 before it
// has one) and the host's resolver unless that is a loopback one (then --dns, or a comment).
void write_network_files(const std::filesystem::path& dir, const Record& record);

// Attaches the namespace of the waiting init `pid` to the container's network (an attachment
// left by an earlier run of the same container is dropped first), records it in
// record.network and rewrites the hosts file with the address. Nothing for none and host.
void setup_network(const std::filesystem::path& root, const std::filesystem::path& dir,
                   Record& record, pid_t pid);

// Detaches the container (port rules, veth, address; idempotent, also after a crash) and clears
// record.network. Never throws.
void teardown_network(const std::filesystem::path& root, Record& record) noexcept;

}  // namespace gctool::container
