// Docker's update: new cgroup limits and restart policy for a container, running or not. A
// running container's cgroup changes at once; the record keeps the values for its next start.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gctool/cgroup/resources.hpp"
#include "gctool/container/store.hpp"
#include "gctool/container/supervisor.hpp"

namespace gctool::container {

struct ContainerUpdate {
  // The fields that are set replace the container's; pids_limit 0 or less removes the limit.
  cgroup::Resources resources;
  std::optional<RestartPolicy> restart;
};

// Checks the values (cgroup::validate) before anything is changed, then, under the store's lock,
// writes the running container's cgroup and saves the record and supervisor options. Throws an
// invalid-input Error when the container does not exist or the values are refused (a restart
// policy on a --rm container, as Docker). Returns the id.
std::string update_container(const ContainerStore& store, std::string_view ref,
                             const ContainerUpdate& update);

}  // namespace gctool::container
