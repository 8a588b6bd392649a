#include "gctool/container/prune.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "gctool/container/runtime.hpp"
#include "gctool/container/volume.hpp"
#include "gctool/core/error.hpp"
#include "gctool/fs/disk_usage.hpp"

namespace gctool::container {
namespace {

std::set<std::string> images_in_use(const std::vector<Record>& records) {
  std::set<std::string> used;
  for (const auto& record : records) {
    used.insert(record.spec.image_id);
  }
  return used;
}

}  // namespace

image::ImageUsers image_users(const ContainerStore& store) {
  return [&store](std::string_view id) {
    std::vector<std::string> users;
    for (const auto& record : store.list()) {
      if (record.spec.image_id == id || fmt::format("sha256:{}", record.spec.image_id) == id) {
        users.push_back(record.id);
      }
    }
    return users;
  };
}

PrunedContainers prune_containers(const ContainerStore& store) {
  PrunedContainers pruned;
  for (const auto& record : list_containers(store)) {
    if (record.state.status != Status::exited && record.state.status != Status::created) {
      continue;
    }
    const auto bytes = fs::tree_size(store.dir(record.id) / "upper");
    try {
      remove_container(store, record.id, false);
    } catch (const Error&) {
      continue;  // started or removed meanwhile
    }
    pruned.ids.push_back(record.id);
    pruned.bytes += bytes;
  }
  return pruned;
}

PrunedImages prune_images(const ContainerStore& containers, image::ImageStore& images, bool all) {
  const auto used = images_in_use(list_containers(containers));
  PrunedImages pruned;
  for (const auto& image : images.list()) {
    if (used.count(image.id) != 0 || (!all && !image.repo_tags.empty())) {
      continue;
    }
    std::map<std::filesystem::path, std::uint64_t> layers;
    for (const auto& dir : image.layer_dirs) {
      layers.emplace(dir, fs::tree_size(dir));
    }
    // By id, with force: every tag goes with it (no container uses it, checked above).
    const auto result = images.remove(image.id, true, image_users(containers));
    pruned.untagged.insert(pruned.untagged.end(), result.untagged.begin(), result.untagged.end());
    pruned.deleted.insert(pruned.deleted.end(), result.deleted.begin(), result.deleted.end());
    for (const auto& [dir, bytes] : layers) {
      if (!std::filesystem::exists(dir)) {
        pruned.bytes += bytes;
      }
    }
  }
  return pruned;
}

SystemDiskUsage disk_usage(const ContainerStore& containers, const image::ImageStore& images) {
  SystemDiskUsage usage;
  const auto records = list_containers(containers);
  const auto used = images_in_use(records);
  // Layers are shared: each counts once, and is reclaimable when no used image has it.
  std::map<std::filesystem::path, bool> layers;  // dir -> used by an image in use
  for (const auto& image : images.list()) {
    ++usage.images.total;
    const bool active = used.count(image.id) != 0;
    usage.images.active += active ? 1 : 0;
    for (const auto& dir : image.layer_dirs) {
      layers[dir] = layers[dir] || active;
    }
  }
  for (const auto& [dir, active] : layers) {
    const auto bytes = fs::tree_size(dir);
    usage.images.size += bytes;
    usage.images.reclaimable += active ? 0 : bytes;
  }
  for (const auto& record : records) {
    ++usage.containers.total;
    const auto bytes = fs::tree_size(containers.dir(record.id) / "upper");
    usage.containers.size += bytes;
    if (record.running() || record.state.status == Status::restarting) {
      ++usage.containers.active;
    } else {
      usage.containers.reclaimable += bytes;
    }
  }
  std::set<std::string> mounted;
  for (const auto& record : records) {
    for (const auto& bind : record.spec.binds) {
      if (!bind.volume.empty()) {
        mounted.insert(bind.volume);
      }
    }
  }
  for (const auto& volume : list_volumes(containers.root())) {
    ++usage.volumes.total;
    const auto bytes = fs::tree_size(volume.mountpoint);
    usage.volumes.size += bytes;
    if (mounted.count(volume.name) != 0) {
      ++usage.volumes.active;
    } else {
      usage.volumes.reclaimable += bytes;
    }
  }
  return usage;
}

}  // namespace gctool::container
