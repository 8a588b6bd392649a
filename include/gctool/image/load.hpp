// `image load`: images from a docker-archive (`docker save`) or an OCI image layout, as a tar
// (plain or compressed) or an unpacked directory. Every blob is verified against its digest and
// every layer against the diff_id of its configuration before anything is committed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
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

// How far a load is, for a progress bar: first the archive is read (step archive), then each
// layer is extracted (step layer, layer counting from 1).
struct LoadProgress {
  enum class Step { archive, layer };
  Step step = Step::archive;
  std::uint64_t bytes = 0;        // read so far in this step
  std::uint64_t total_bytes = 0;  // of this step; 0 when unknown (a pipe)
  std::size_t layer = 0;
  std::size_t layers = 0;
};

struct LoadOptions {
  ExtractLimits limits;  // apply to the archive and to each layer
  // Called as bytes arrive (often: throttle what it draws) and at the start and end of a step.
  std::function<void(const LoadProgress&)> progress;
  std::uint64_t input_size = 0;  // the archive's size, if known, for progress
};

// Loads a docker-archive or OCI layout tar stream.
std::vector<LoadedImage> load_archive(ImageStore& store, const ByteSource& source,
                                      const LoadOptions& options = {});

// Loads from an unpacked docker-archive or OCI layout directory; symlinks in it are resolved as if
// the directory were the root, so nothing outside it is read.
std::vector<LoadedImage> load_directory(ImageStore& store, const std::filesystem::path& dir,
                                        const LoadOptions& options = {});

}  // namespace gctool::image
