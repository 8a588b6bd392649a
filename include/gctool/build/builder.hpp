// `gctool build`: a Dockerfile's stages built into images of the store. RUN steps run in build
// containers (the runtime of `run`), COPY/ADD/WORKDIR steps write a staging directory; each step's
// change becomes a layer. Steps that make layers are cached in <root>/builder/cache under a key of
// the parent step, the instruction as resolved (args, env) and, for COPY/ADD, the content of the
// files copied, so an unchanged rebuild runs nothing.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/core/fd.hpp"
#include "gctool/image/reference.hpp"
#include "gctool/registry/client.hpp"

namespace gctool::build {

struct BuildOptions {
  std::filesystem::path root;  // the data root
  // The Dockerfile's text; when empty, the file dockerfile_name of the context is read.
  std::string dockerfile;
  std::string dockerfile_name = "Dockerfile";
  std::filesystem::path context;  // a directory, or:
  BorrowedFd context_tar;         // a tar stream (plain or compressed) extracted for the build
  std::map<std::string, std::optional<std::string>> build_args;  // --build-arg (nullopt: unset)
  std::optional<std::string> target;
  bool no_cache = false;
  // Only what the cache already has: the build throws CacheMiss, having written nothing but
  // remembered file digests, where a step would run, copy, commit or pull. A process that must
  // not start containers (one not running from a sealed copy of gctool) tries a rebuild this way.
  // Stages are built one after the other, in this process.
  bool cached_only = false;
  // An image that FROM or COPY --from names and the store lacks is pulled from its registry, as
  // docker build does; with pull (--pull) every such image is pulled again first.
  bool pull = false;
  registry::ClientOptions registry;
  std::string network = "bridge";  // of RUN containers: bridge, host or none
  std::vector<image::Reference> tags;
  std::map<std::string, std::string> labels;  // --label, on the final image
  // A readable fd (a signalfd) that cancels the build: the running step's container is killed
  // and everything the build made that is not in the cache is released.
  BorrowedFd cancel;
  // Receives each progress line (BuildKit's plain format), without newline.
  std::function<void(std::string_view)> progress;
};

struct BuildResult {
  std::string image_id;
  int steps = 0;
  int cached = 0;
  std::vector<std::string> warnings;
};

// Thrown when the cancel fd became readable.
class BuildCancelled : public std::runtime_error {
 public:
  BuildCancelled() : std::runtime_error("build cancelled") {}
};

// Thrown with cached_only when the cache lacks a step.
class CacheMiss : public std::runtime_error {
 public:
  CacheMiss() : std::runtime_error("build step not cached") {}
};

// Builds the target stage (the last one by default) and the stages it needs, commits the result
// with its tags and returns its id. Throws an invalid-input Error "Dockerfile:LINE: ..." for
// Dockerfile errors and failing steps; nothing but cache entries of finished steps is kept.
BuildResult build_image(const BuildOptions& options);

// `builder prune`: removes every cache entry, the images that only the cache kept, the RUN
// cache mounts and the remembered file digests. Returns the number of entries removed.
int prune_build_cache(const std::filesystem::path& root);

}  // namespace gctool::build
