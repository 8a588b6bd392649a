// `commit`: a directory in overlay form (a container's upper dir) as a new top layer over an image.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "gctool/image/config.hpp"
#include "gctool/image/reference.hpp"
#include "gctool/image/store.hpp"

namespace gctool::image {

struct CommitRequest {
  std::string base;              // the image the directory lies over (an id or a name)
  std::filesystem::path dir;     // the new layer, overlay whiteouts and opaque dirs included
  ImageConfig config;            // its Cmd, Entrypoint, Env, WorkingDir and User replace the base's
  std::optional<Reference> tag;  // the name to give the new image, if any
  std::string comment;           // goes into the history entry
  std::string author;
};

// Packs dir (pack_layer: symlinks stay links, whiteouts become ".wh." entries), extracts that tar
// as a store layer, and commits an image with the base's layers plus the new one and the base's
// configuration updated with request.config. Returns the new image.
Image commit_layer(ImageStore& store, const CommitRequest& request);

}  // namespace gctool::image
