#include "gctool/container/network.hpp"

#include "gctool/core/error.hpp"

namespace gctool::container {

void validate_network_mode(std::string_view mode) {
  if (mode != "none" && mode != "default") {
    throw_invalid("network \"{}\" is not supported (only \"none\")", mode);
  }
}

void setup_network(const Record&, pid_t) {
  // "none": loopback only, which the init sets up inside the namespace.
}

void teardown_network(const Record&) noexcept {}

}  // namespace gctool::container
