// `pull`: an image from a registry into the store. The manifest (or the index, and from it the
// manifest of the wanted platform) and the configuration are fetched and verified; then every
// layer the store lacks is downloaded and, as its bytes arrive, decompressed, hashed and extracted
// by a thread of its own, several layers at once. Nothing is committed unless every blob matched
// its digest and every layer its diff_id: a failed or killed pull leaves only temporary
// directories, which the store sweeps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/image/extract.hpp"
#include "gctool/image/store.hpp"
#include "gctool/registry/client.hpp"
#include "gctool/registry/reference.hpp"

namespace gctool::registry {

struct Platform {
  std::string os = "linux";
  std::string architecture;  // empty: this machine's
  std::string variant;       // empty: any
  std::string str() const;
};

// "os/arch[/variant]"; throws an invalid-input Error otherwise.
Platform parse_platform(std::string_view text);

// One layer as the progress display shows it, in Docker's words.
struct LayerStatus {
  std::string id;      // the first 12 hex digits of the blob digest
  std::string status;  // "Waiting", "Downloading", "Extracting", "Pull complete", "Already exists"
  std::uint64_t current = 0;
  std::uint64_t total = 0;
};

struct PullOptions {
  ClientOptions client;
  Platform platform;
  image::ExtractLimits limits;
  // Called on the pulling thread: once the layers are known, on every status change and, at
  // most every 100 ms, as bytes arrive.
  std::function<void(const std::vector<LayerStatus>&)> progress;
};

struct PullResult {
  std::string id;           // the image id
  std::string digest;       // of the manifest (or the index) the reference named
  bool downloaded = false;  // false: the store had the image and the tag already
};

PullResult pull(image::ImageStore& store, const RemoteReference& ref, const PullOptions& options);

// The media types of manifests and indexes gctool reads.
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";

}  // namespace gctool::registry
