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
  std::map<std::string, std::size_t> image_users;   // image id -> containers
  std::map<std::string, std::size_t> volume_users;  // volume name -> containers
  for (const auto& record : records) {
    ++image_users[record.spec.image_id];
    std::set<std::string> volumes;
    for (const auto& bind : record.spec.binds) {
      if (!bind.volume.empty()) {
        volumes.insert(bind.volume);
      }
    }
    for (const auto& name : volumes) {
      ++volume_users[name];
    }
    usage.container_rows.push_back({record, 0, volumes.size()});
  }
  // Layers are shared: each counts once, and is reclaimable when no used image has it.
  struct Layer {
    bool active = false;  // used by an image in use
    std::size_t images = 0;
    std::uint64_t bytes = 0;
  };
  std::map<std::filesystem::path, Layer> layers;
  for (const auto& image : images.list()) {
    ++usage.images.total;
    const auto users = image_users.find(image.id);
    const bool active = users != image_users.end();
    usage.images.active += active ? 1 : 0;
    for (const auto& dir : image.layer_dirs) {
      auto& layer = layers[dir];
      layer.active = layer.active || active;
      ++layer.images;
    }
    usage.image_rows.push_back({image, 0, 0, active ? users->second : 0});
  }
  for (auto& [dir, layer] : layers) {
    layer.bytes = fs::tree_size(dir);
    usage.images.size += layer.bytes;
    usage.images.reclaimable += layer.active ? 0 : layer.bytes;
  }
  for (auto& row : usage.image_rows) {
    for (const auto& dir : row.image.layer_dirs) {
      const auto& layer = layers[dir];
      (layer.images > 1 ? row.shared : row.unique) += layer.bytes;
    }
  }
  std::sort(usage.image_rows.begin(), usage.image_rows.end(), [](const auto& a, const auto& b) {
    return a.image.created_time > b.image.created_time;
  });
  for (auto& row : usage.container_rows) {
    ++usage.containers.total;
    row.size = fs::tree_size(containers.dir(row.record.id) / "upper");
    usage.containers.size += row.size;
    if (row.record.running() || row.record.state.status == Status::restarting) {
      ++usage.containers.active;
    } else {
      usage.containers.reclaimable += row.size;
    }
  }
  std::reverse(usage.container_rows.begin(), usage.container_rows.end());
  for (const auto& volume : list_volumes(containers.root())) {
    ++usage.volumes.total;
    const auto bytes = fs::tree_size(volume.mountpoint);
    usage.volumes.size += bytes;
    const auto users = volume_users.find(volume.name);
    const std::size_t links = users != volume_users.end() ? users->second : 0;
    if (links != 0) {
      ++usage.volumes.active;
    } else {
      usage.volumes.reclaimable += bytes;
    }
    usage.volume_rows.push_back({volume.name, links, bytes});
  }
  std::sort(usage.volume_rows.begin(), usage.volume_rows.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return usage;
}

}  // namespace gctool::container
