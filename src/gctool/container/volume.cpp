#include "gctool/container/volume.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/crash_point.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/event_journal.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/time.hpp"
#include "gctool/fs/disk_usage.hpp"

namespace gctool::container {
namespace {

namespace fsys = std::filesystem;

constexpr const char* kDataDir = "_data";
constexpr const char* kMetadata = "volume.json";

fsys::path volumes_dir(const fsys::path& root) {
  return root / "volumes";
}

// mkdir with mode 0755 whatever the umask; true when this call made it, false when it existed.
bool make_dir(const fsys::path& path) {
  if (::mkdir(path.c_str(), 0755) != 0) {
    if (errno == EEXIST) {
      return false;
    }
    throw Error(errno, fmt::format("create {}", path));
  }
  check(::chmod(path.c_str(), 0755), "chmod {}", path);
  return true;
}

// The volume as stored; a missing volume.json (a creation cut short) takes the directory's
// modification time.
Volume load_volume(const fsys::path& root, std::string_view name) {
  const fsys::path dir = volumes_dir(root) / name;
  Volume volume{std::string(name), dir / kDataDir, ""};
  if (const auto meta = try_load_json(dir / kMetadata); meta && meta->is_object()) {
    volume.created_at = meta->value("CreatedAt", "");
    const auto labels = meta->find("Labels");
    volume.anonymous =
        meta->value("Anonymous", false) || (labels != meta->end() && labels->is_object() &&
                                            labels->contains("com.docker.volume.anonymous"));
  }
  if (volume.created_at.empty()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
      volume.created_at =
          format_rfc3339_nano(std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec));
    }
  }
  return volume;
}

void check_name(std::string_view name) {
  if (!valid_volume_name(name)) {
    throw_invalid(
        "\"{}\" includes invalid characters for a local volume name, only "
        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed",
        name);
  }
}

// A volume being deleted: renamed to this prefix and a random id first (see delete_volume).
constexpr std::string_view kRemovingVolumePrefix = ".removing-";

// Deletes a renamed-away volume. Another process may be deleting the same tree (a sweep of one
// whose deleter died): what it removed first is no error.
void remove_doomed(const fsys::path& doomed) {
  std::error_code ec;
  fsys::remove_all(doomed, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    throw Error(ec.value(), fmt::format("remove {}", doomed));
  }
}

// Removes the volume's directory: renamed away first, so that it disappears at once, then
// deleted (remove_all never follows a symlink). A deletion cut short leaves only the renamed
// directory, which the next listing removes.
void delete_volume(const fsys::path& root, std::string_view name) {
  const fsys::path dir = volumes_dir(root) / name;
  const fsys::path doomed =
      volumes_dir(root) / fmt::format("{}{}", kRemovingVolumePrefix, random_id());
  check(::rename(dir.c_str(), doomed.c_str()), "rename {} to {}", dir, doomed);
  crash_point("volume-rm:renamed");
  record_event(root, {"volume", "destroy", std::string(name), {{"driver", "local"}}});
  remove_doomed(doomed);
}

// Finishes the deletions that processes killed midway left.
void remove_interrupted_deletions(const fsys::path& root) {
  std::vector<fsys::path> doomed;
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator(volumes_dir(root), ec)) {
    if (entry.path().filename().string().starts_with(kRemovingVolumePrefix)) {
      doomed.push_back(entry.path());
    }
  }
  for (const auto& dir : doomed) {
    try {
      remove_doomed(dir);
    } catch (const Error&) {
      // Tried again by the next listing.
    }
  }
}

}  // namespace

bool valid_volume_name(std::string_view name) {
  return valid_name(name);
}

bool volume_exists(const fsys::path& root, std::string_view name) {
  struct stat st {};
  return valid_volume_name(name) && ::stat((volumes_dir(root) / name).c_str(), &st) == 0 &&
         S_ISDIR(st.st_mode);
}

Volume ensure_volume(const fsys::path& root, std::string_view name, bool anonymous) {
  check_name(name);
  make_dir(volumes_dir(root));
  const fsys::path dir = volumes_dir(root) / name;
  if (make_dir(dir)) {
    nlohmann::json meta{{"CreatedAt", format_rfc3339_nano(std::chrono::system_clock::now())}};
    if (anonymous) {
      meta["Anonymous"] = true;
    }
    save_json(dir / kMetadata, meta, Durability::fast);
    record_event(root, {"volume", "create", std::string(name), {{"driver", "local"}}});
  }
  make_dir(dir / kDataDir);
  return load_volume(root, name);
}

Volume create_volume(const ContainerStore& store, std::string_view name) {
  const std::string chosen = name.empty() ? random_id() : std::string(name);
  check_name(chosen);
  const auto lock = store.lock();
  return ensure_volume(store.root(), chosen);
}

std::vector<Volume> list_volumes(const fsys::path& root) {
  remove_interrupted_deletions(root);
  std::vector<Volume> volumes;
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator(volumes_dir(root), ec)) {
    const std::string name = entry.path().filename().string();
    if (volume_exists(root, name)) {
      volumes.push_back(load_volume(root, name));
    }
  }
  std::sort(volumes.begin(), volumes.end(),
            [](const Volume& a, const Volume& b) { return a.name < b.name; });
  return volumes;
}

Volume find_volume(const fsys::path& root, std::string_view name) {
  if (!volume_exists(root, name)) {
    throw_invalid("no such volume: {}", name);
  }
  return load_volume(root, name);
}

nlohmann::json to_json(const Volume& volume) {
  return {{"CreatedAt", volume.created_at},
          {"Driver", "local"},
          {"Labels", nullptr},
          {"Mountpoint", volume.mountpoint.string()},
          {"Name", volume.name},
          {"Options", nullptr},
          {"Scope", "local"}};
}

std::vector<std::string> volume_users(const ContainerStore& store, std::string_view name) {
  std::vector<std::string> ids;
  for (const auto& record : store.list()) {
    const auto& binds = record.spec.binds;
    if (std::any_of(binds.begin(), binds.end(),
                    [name](const BindMount& b) { return b.volume == name; })) {
      ids.push_back(record.id);
    }
  }
  return ids;
}

void remove_volume(const ContainerStore& store, std::string_view name) {
  const auto lock = store.lock();
  find_volume(store.root(), name);
  if (const auto users = volume_users(store, name); !users.empty()) {
    throw_invalid("remove {}: volume is in use - [{}]", name, fmt::join(users, ", "));
  }
  delete_volume(store.root(), name);
}

void remove_anonymous_volumes(const ContainerStore& store,
                              const std::vector<BindMount>& binds) noexcept {
  for (const auto& bind : binds) {
    try {
      if (bind.anonymous && !bind.volume.empty() && volume_exists(store.root(), bind.volume) &&
          volume_users(store, bind.volume).empty()) {
        delete_volume(store.root(), bind.volume);
      }
    } catch (const std::exception&) {
      // Left for `volume rm` or `volume prune`.
    }
  }
}

std::vector<PrunedVolume> prune_volumes(const ContainerStore& store, bool all) {
  const auto lock = store.lock();
  std::vector<PrunedVolume> removed;
  for (const auto& volume : list_volumes(store.root())) {
    if ((all || volume.anonymous) && volume_users(store, volume.name).empty()) {
      const auto bytes = fs::tree_size(volume.mountpoint);
      delete_volume(store.root(), volume.name);
      removed.push_back({volume.name, bytes});
    }
  }
  return removed;
}

}  // namespace gctool::container
