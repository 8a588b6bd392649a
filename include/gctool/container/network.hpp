// The runtime's network step. Every container gets its own network namespace; its init brings
// loopback up. Modes that connect it further (bridge, veth, ports) plug in here: setup_network
// runs in the parent between clone and the release of the init, teardown_network when the
// container is released.
#pragma once

#include <sys/types.h>

#include <string_view>

#include "gctool/container/state.hpp"

namespace gctool::container {

// Accepts "none" and "default" (the same for now); anything else is an invalid-input Error.
void validate_network_mode(std::string_view mode);

// Configures the namespace of the waiting init `pid` from the host side.
void setup_network(const Record& record, pid_t pid);

// Releases what setup_network allocated on the host (addresses, links); never throws.
void teardown_network(const Record& record) noexcept;

}  // namespace gctool::container
