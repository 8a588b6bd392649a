// Named volumes, as Docker's "local" driver: <root>/volumes/<name>/_data is what containers mount,
// <root>/volumes/<name>/volume.json records when it was made. The directory is the record; every
// change takes the container store's lock, so that a volume is never removed while a container
// that refers to it is being created.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gctool/container/spec.hpp"
#include "gctool/container/store.hpp"

namespace gctool::container {

struct Volume {
  std::string name;
  std::filesystem::path mountpoint;  // <root>/volumes/<name>/_data
  std::string created_at;            // RFC 3339
  // Made for a container (`-v /data`) rather than by name: volume.json has "Anonymous": true or
  // Docker's label com.docker.volume.anonymous. Only these go in `volume prune` without -a.
  bool anonymous = false;
};

// Docker's rule for volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at most 128 characters here).
bool valid_volume_name(std::string_view name);

// Whether the volume exists.
bool volume_exists(const std::filesystem::path& root, std::string_view name);

// The volume named name, created (0755, owned by root) when missing; an existing one is returned
// as it is, and a concurrent creation of the same volume is no failure. The caller holds the
// store lock. An anonymous volume (`-v /data`) is marked so, for `volume prune` without -a.
Volume ensure_volume(const std::filesystem::path& root, std::string_view name,
                     bool anonymous = false);

// `volume create [NAME]`: as ensure_volume under the store lock; a random 64-hex name when name is
// empty. An invalid name is an invalid-input Error.
Volume create_volume(const ContainerStore& store, std::string_view name);

// Every volume, by name. Finishes the deletions that killed `volume rm`s left first.
std::vector<Volume> list_volumes(const std::filesystem::path& root);

// The volume, or an invalid-input Error "no such volume: name".
Volume find_volume(const std::filesystem::path& root, std::string_view name);

// Docker's `volume inspect` object: Name, Driver, Mountpoint, CreatedAt, Labels, Scope, Options.
nlohmann::json to_json(const Volume& volume);

// The ids of the containers (running or not) whose mounts refer to the volume, oldest first.
// The caller holds the store lock.
std::vector<std::string> volume_users(const ContainerStore& store, std::string_view name);

// Removes the volume and its data. A volume that a container refers to is refused with an
// invalid-input Error `remove NAME: volume is in use - [<id>, ...]`, as Docker.
void remove_volume(const ContainerStore& store, std::string_view name);

// Removes the anonymous volumes (`-v /data`) among binds that no container refers to any more:
// for a container whose record is gone (--rm, rm -v, a create that failed). The caller holds
// the store lock. Best effort: one that cannot be removed stays, as `volume ls` shows it.
void remove_anonymous_volumes(const ContainerStore& store,
                              const std::vector<BindMount>& binds) noexcept;

// Removes every anonymous volume no container refers to, with `all` every unused volume (Docker
// 23+); returns their names and the bytes their data held.
struct PrunedVolume {
  std::string name;
  std::uint64_t bytes = 0;
};
std::vector<PrunedVolume> prune_volumes(const ContainerStore& store, bool all);

}  // namespace gctool::container
