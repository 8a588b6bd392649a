// Directories packed as tar: a layer in overlay form (a store layer or a container's upper dir)
// back into a layer tar, and a stack of layers into the merged tree a container sees (`export`).
// Symlinks are stored as links and never followed; modes, owners, mtimes and extended attributes
// (except overlay's own) are kept. Names are sorted and times other than mtime are left out, so
// the same tree always packs to the same bytes: a layer extracted from our own tar packs back to
// exactly that tar, and an image keeps its id through save and load.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gctool/core/fd.hpp"

namespace gctool::image {

struct PackedLayer {
  UniqueFd file;        // the tar, at offset 0 (an unnamed temporary file)
  std::string diff_id;  // "sha256:<hex>" of the tar
  std::uint64_t bytes = 0;
};

// Packs dir as a layer tar into an unnamed temporary file created in tmp_dir. Overlay whiteouts
// (0/0 character devices) become ".wh.NAME" entries, opaque directories (trusted.overlay.opaque=y)
// get a ".wh..wh..opq" entry; other devices and sockets are left out. Throws an invalid-input
// Error for overlay redirects or metacopy files, which a tar cannot express.
PackedLayer pack_layer(const std::filesystem::path& dir, const std::filesystem::path& tmp_dir);

// The diff_id pack_layer would give dir, without writing the tar anywhere.
std::string layer_diff_id(const std::filesystem::path& dir);

// The owner a tar's entries are given instead of their files' own.
struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Writes the entry name of dir (a symlink as the link itself) to out as a tar, a directory with
// everything under it, under the name `as` (a directory's entries as "as/..."); with `as` empty,
// only the entries of the directory name, at the top of the tar (`cp DIR/.`). With owner, every
// entry gets it. Throws an Error with ENOENT when name does not exist.
void pack_entry(BorrowedFd dir, const std::string& name, const std::string& as, BorrowedFd out,
                const std::optional<Owner>& owner = std::nullopt);

// Writes the merged view of layers (bottom to top, each in overlay form, as overlayfs would
// show them with the last one on top) to out as a tar: whiteouts hide what is below them, opaque
// directories hide the directories below, and no whiteout appears in the output. Entries that
// vanish while being packed (a running container) are left out.
void pack_merged(const std::vector<std::filesystem::path>& layers, BorrowedFd out);

}  // namespace gctool::image
