// `image save`: images as a docker-archive tar that `image load` (and `docker load`) read back.
#pragma once

#include <string>
#include <vector>

#include "gctool/core/fd.hpp"
#include "gctool/image/store.hpp"

namespace gctool::image {

// Writes the images named by refs to out. Layers are packed again from their directories
// (pack_layer: overlay whiteouts become ".wh." entries again). Layers gctool made (import, commit,
// or loaded from a gctool save) pack to their original bytes, so the image keeps its id; a layer
// from another tool's tar packs differently, and then the configuration gets the new diff_ids: the
// loaded copy has another id with the same content. A tag reference saves that tag, an id every
// tag of the image.
void save_images(const ImageStore& store, const std::vector<std::string>& refs, BorrowedFd out);

}  // namespace gctool::image
