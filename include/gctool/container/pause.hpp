// `pause` and `unpause`: every process of a running container frozen by its cgroup's freezer,
// and thawed again.
#pragma once

#include <string_view>

#include "gctool/container/store.hpp"

namespace gctool::container {

// Freezes the running container ref names and returns once all its processes have stopped.
// Throws an invalid-input Error when it does not run ("container X is not running") or is
// paused already.
void pause_container(const ContainerStore& store, std::string_view ref);

// Thaws the paused container ref names. Throws an invalid-input Error when it is not paused.
void unpause_container(const ContainerStore& store, std::string_view ref);

// After a signal that is to end a paused container (stop's, or SIGKILL), thaws it, as Docker
// does: a frozen process would only act on it once unpaused. Nothing when it is not paused.
void thaw_if_paused(const Record& record);

}  // namespace gctool::container
