// `image load`: images from a docker-archive (`docker save`) or an OCI image layout, as a tar
// (plain or compressed) or an unpacked directory. Every blob is verified against its digest and
// every layer against the diff_id of its configuration before anything is committed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "gctool/core/fd.hpp"
#include "gctool/image/extract.hpp"
#include "gctool/image/store.hpp"

namespace gctool::image {

struct LoadedImage {
  std::string id;
  std::vector<std::string> tags;  // "name:tag" as named in the archive; empty when unnamed
};

// Loads a docker-archive or OCI layout tar stream. limits apply to the archive and to each layer.
std::vector<LoadedImage> load_archive(ImageStore& store, const ByteSource& source,
                                      const ExtractLimits& limits = {});

// Loads from an unpacked docker-archive or OCI layout directory; symlinks in it are resolved as if
// the directory were the root, so nothing outside it is read.
std::vector<LoadedImage> load_directory(ImageStore& store, const std::filesystem::path& dir,
                                        const ExtractLimits& limits = {});

}  // namespace gctool::image
