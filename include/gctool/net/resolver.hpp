// The per-network DNS resolvers (the gctool-resolver program, src/resolver/main.cpp): started with
// the first container on a user-defined network, stopped with the last one and with the network.
// Each is recorded in <root>/networks/resolvers/<network>.pid as "PID START-TIME", so a reused pid
// is never taken for it. The default network `bridge` has none, as in Docker. Callers hold the
// networks lock.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "gctool/net/network.hpp"

namespace gctool::net {

// Where gctool-resolver is; without one (a library user who set none) networks get no resolver
// and containers keep the host's resolvers.
void use_resolver_helper(std::filesystem::path helper);
const std::optional<std::filesystem::path>& resolver_helper() noexcept;

// Whether containers on this network get a resolver: every network but the default one, when a
// helper is known.
bool network_has_resolver(const Network& network);

// The resolv.conf the resolvers forward to (the host's): $GCTOOL_HOST_RESOLV_CONF or
// /etc/resolv.conf.
std::filesystem::path host_resolv_conf_path();

// Starts the network's resolver unless it runs; returns once it listens on the gateway address
// (or throws with its reason, e.g. `bind 10.1.0.1:53: Address already in use`).
void ensure_resolver(const std::filesystem::path& root, const Network& network);

// Stops the network's resolver (SIGTERM, then waits for it to exit) and forgets it; false when
// none ran. Never throws.
bool stop_resolver(const std::filesystem::path& root, const std::string& network_name) noexcept;

// Removes the records of resolvers that are gone (one that left by itself, or a start that was
// cut short). Called with the networks lock held, as every change begins.
void forget_dead_resolvers(const std::filesystem::path& root) noexcept;

// The pid of the network's running resolver, if any.
std::optional<pid_t> resolver_pid(const std::filesystem::path& root,
                                  const std::string& network_name);

}  // namespace gctool::net
