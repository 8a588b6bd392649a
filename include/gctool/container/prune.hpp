// The prune verbs and `system df`: what stopped containers, unused images and volumes hold, and
// their removal, as Docker reports them; and which containers use an image, for image removal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gctool/container/state.hpp"
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

// The rows of `system df -v`.
struct ImageDiskUsage {
  image::Image image;
  std::uint64_t shared = 0;  // layers another image has too
  std::uint64_t unique = 0;  // layers only this image has
  std::size_t containers = 0;
};
struct ContainerDiskUsage {
  Record record;
  std::uint64_t size = 0;  // its writable layer
  std::size_t local_volumes = 0;
};
struct VolumeDiskUsage {
  std::string name;
  std::size_t links = 0;  // containers that use it
  std::uint64_t size = 0;
};

struct SystemDiskUsage {
  DiskUsage images;      // active: used by a container; reclaimable: layers only unused use
  DiskUsage containers;  // active: running; size: writable layers; reclaimable: not running
  DiskUsage volumes;     // active: used by a container; reclaimable: unused ones
  std::vector<ImageDiskUsage> image_rows;          // newest first
  std::vector<ContainerDiskUsage> container_rows;  // newest first
  std::vector<VolumeDiskUsage> volume_rows;        // by name
};

SystemDiskUsage disk_usage(const ContainerStore& containers, const image::ImageStore& images);

}  // namespace gctool::container
