// The processes of a running container, as `top` lists them.
#pragma once

#include <sys/types.h>

#include <string_view>
#include <vector>

#include "gctool/container/store.hpp"

namespace gctool::container {

// The host pids of every process in the container's cgroup, sorted. Throws an invalid-input
// Error "container X is not running" when it does not run.
std::vector<pid_t> container_processes(const ContainerStore& store, std::string_view ref);

}  // namespace gctool::container
