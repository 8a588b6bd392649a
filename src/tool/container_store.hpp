// The container store as every verb opens it: a record that cannot be read is skipped with one
// warning line, as Docker skips a container it cannot load, and the other containers work on.
#pragma once

#include <cstdio>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/container/store.hpp"
#include "gctool/core/ids.hpp"

namespace gctool::tool {

inline container::ContainerStore open_container_store(const Globals& globals) {
  return container::ContainerStore(globals.root, [](const container::BrokenRecord& broken) {
    std::fflush(stdout);
    fmt::print(stderr, "gctool: warning: skipping container {}: {} (rm -f {} removes it)\n",
               short_id(broken.id), broken.error, short_id(broken.id));
  });
}

// For verbs that act on several containers from processes of their own: the broken records are
// reported here, once, and the processes inherit the store's memory of having done so.
inline void report_broken_records(const container::ContainerStore& store) {
  (void)store.scan();
}

}  // namespace gctool::tool
