// `rename`: a container's new name, running or not.
#pragma once

#include <string_view>

#include "gctool/container/store.hpp"

namespace gctool::container {

// Renames the container ref names. Throws an invalid-input Error for an invalid name, the name
// it has already, or a name another container holds; nothing changes then.
void rename_container(const ContainerStore& store, std::string_view ref, std::string_view name);

}  // namespace gctool::container
