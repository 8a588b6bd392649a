// `diff`: what a container changed in its filesystem, read from its overlay upper directory.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gctool/container/store.hpp"

namespace gctool::container {

struct Change {
  char kind = 'C';   // 'A' added, 'C' changed, 'D' deleted (a whiteout in the upper directory)
  std::string path;  // absolute, in the container
};

// The changes of the container ref names, sorted by path as Docker lists them. A directory
// that exists in the image counts as changed when something in it did, or when it was made
// opaque (deleted and made again). Mount points gctool itself creates (an empty /etc/hostname,
// /etc/hosts or /etc/resolv.conf the image lacked) are not the container's changes.
std::vector<Change> diff_container(const ContainerStore& store, std::string_view ref);

}  // namespace gctool::container
