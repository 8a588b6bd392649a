// The prune verbs and `system df`: what stopped containers, unused images and volumes hold, and
// their removal, as Docker reports them; and which containers use an image, for image removal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gctool/container/store.hpp"
#include "gctool/image/store.hpp"

namespace gctool::container {

struct PrunedContainers {
  std::vector<std::string> ids;
  std::uint64_t bytes = 0;  // what their writable layers held
};

// `container prune`: removes every container that is not running (created or exited).
PrunedContainers prune_containers(const ContainerStore& store);

struct PrunedImages {
  std::vector<std::string> untagged;  // "name:tag"
  std::vector<std::string> deleted;   // image ids
  std::uint64_t bytes = 0;            // what the removed layers held
};

// `image prune`: removes the dangling images (no tag) that no container uses; with all, every
// image no container uses.
// Which containers of the store, in any state, use an image: what image::ImageStore::remove asks.
// Reads the records as they are (no reconciling, no container lock: the image store's lock is
// held meanwhile); a broken record counts for no image.
image::ImageUsers image_users(const ContainerStore& store);

PrunedImages prune_images(const ContainerStore& containers, image::ImageStore& images, bool all);

// One line of `system df`.
struct DiskUsage {
  std::size_t total = 0;
  std::size_t active = 0;
  std::uint64_t size = 0;
  std::uint64_t reclaimable = 0;
};

struct SystemDiskUsage {
  DiskUsage images;      // active: used by a container; reclaimable: layers only unused use
  DiskUsage containers;  // active: running; size: writable layers; reclaimable: not running
  DiskUsage volumes;     // active: used by a container; reclaimable: unused ones
};

SystemDiskUsage disk_usage(const ContainerStore& containers, const image::ImageStore& images);

}  // namespace gctool::container
