// `docker image inspect` JSON for an image of the store.
#pragma once

#include <nlohmann/json.hpp>

#include "gctool/image/store.hpp"

namespace gctool::image {

// Id, RepoTags, Created, Size, Architecture, Os, Config and RootFS as Docker names them.
nlohmann::json inspect_image(const ImageStore& store, const Image& image);

}  // namespace gctool::image
