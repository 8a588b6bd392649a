// Reading an image's file tree straight from its layer directories (overlay form, bottom to top)
// without mounting them: what COPY needs to know about its destination (a symlinked /bin, the
// mode of an existing directory) and what --chown reads from /etc/passwd.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gctool::build {

struct LayerEntry {
  std::filesystem::path host;  // the file in the topmost layer that has it
  struct stat st {};
};

// The entry at rel (no symlink followed) as overlayfs would show it: the topmost layer's, unless a
// whiteout, a non-directory or an opaque directory above hides it.
std::optional<LayerEntry> lookup_in_layers(const std::vector<std::filesystem::path>& layers,
                                           std::string_view rel);

// rel with every symlink of its directories (and of its last component with follow_last) followed
// inside the image's root; the result is relative to the root, without ".." or symlinks.
std::string resolve_in_layers(const std::vector<std::filesystem::path>& layers,
                              std::string_view rel, bool follow_last);

// The content of the regular file at rel (symlinks followed), nullopt when absent.
std::optional<std::string> read_in_layers(const std::vector<std::filesystem::path>& layers,
                                          std::string_view rel);

// USER/--chown "name[:group]" or "uid[:gid]" as numbers, names looked up in the image's
// /etc/passwd and /etc/group. Throws an invalid-input Error for an unknown name.
std::pair<uid_t, gid_t> resolve_owner(const std::vector<std::filesystem::path>& layers,
                                      std::string_view spec);

}  // namespace gctool::build
