// How much a directory tree holds, as Docker counts it for `system df` and the prune verbs.
#pragma once

#include <cstdint>
#include <filesystem>

namespace gctool::fs {

// The bytes of every regular file and symlink under dir (a file with several links counted
// once), walked without following symlinks or crossing into other file systems; 0 when dir
// does not exist. Entries that vanish during the walk are left out.
std::uint64_t tree_size(const std::filesystem::path& dir);

}  // namespace gctool::fs
