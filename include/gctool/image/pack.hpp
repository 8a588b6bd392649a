// Directories packed as tar: a layer in overlay form (a store layer or a container's upper dir)
// back into a layer tar, and a stack of layers into the merged tree a container sees (`export`).
// Symlinks are stored as links and never followed; modes, owners, mtimes and extended attributes
// (except overlay's own) are kept. Names are sorted and times other than mtime are left out, so
// the same tree always packs to the same bytes: a layer extracted from our own tar packs back to
// exactly that tar, and an image keeps its id through save and load.
#pragma once

#include <cstdint>
#include <filesystem>
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

// Writes the merged view of layers (bottom to top, each in overlay form, as overlayfs would
// show them with the last one on top) to out as a tar: whiteouts hide what is below them, opaque
// directories hide the directories below, and no whiteout appears in the output. Entries that
// vanish while being packed (a running container) are left out.
void pack_merged(const std::vector<std::filesystem::path>& layers, BorrowedFd out);

}  // namespace gctool::image
