// `push`: an image of the store to a registry. Each layer is packed from its directory (the same
// bytes as its diff_id), compressed with gzip into a temporary file and uploaded unless the
// registry has the blob already (HEAD first); then the configuration and a Docker schema 2
// manifest under the tag.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "gctool/image/store.hpp"
#include "gctool/registry/client.hpp"
#include "gctool/registry/reference.hpp"

namespace gctool::registry {

struct PushOptions {
  ClientOptions client;
  // "<12 hex>: Pushing", "Pushed", "Layer already exists", in Docker's words.
  std::function<void(const std::string& id, const std::string& status)> progress;
};

struct PushResult {
  std::string digest;  // of the manifest
  std::uint64_t size = 0;
};

PushResult push(const image::ImageStore& store, const RemoteReference& ref,
                const PushOptions& options);

}  // namespace gctool::registry
