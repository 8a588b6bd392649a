// The containers of a data root: <root>/containers/<id>/config.json for each one, and
// <root>/containers.lock, held by every change so that names stay unique and two gctool processes
// never interleave their writes.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "gctool/container/state.hpp"
#include "gctool/core/atomic_file.hpp"
#include "gctool/core/file_lock.hpp"

namespace gctool::container {

class ContainerStore {
 public:
  explicit ContainerStore(std::filesystem::path root);

  const std::filesystem::path& root() const noexcept { return root_; }
  std::filesystem::path dir(std::string_view id) const;
  std::filesystem::path config_path(std::string_view id) const;

  // The store lock (created with its directories when missing). Writes below expect it held.
  FileLock lock() const;

  // What create() does when another container holds the record's name.
  enum class NameConflict {
    fail,        // an invalid-input Error: `the container name "/x" is already in use by ...`
    draw_again,  // a generated name: draw random names (record.name and spec.name) until free
  };

  // Creates the container's directory and writes its first record; the name is checked against
  // the stored records in one listing.
  void create(Record& record, Durability durability,
              NameConflict on_conflict = NameConflict::fail) const;

  // Replaces the record; false (nothing written) when the container was removed meanwhile.
  bool save(const Record& record, Durability durability) const;

  // The record, or nullopt when there is no such container (any more).
  std::optional<Record> load(std::string_view id) const;

  // Every container, oldest first. Deletes what removals and creates cut short left (directories
  // without a record), so the caller must hold the lock.
  std::vector<Record> list() const;

  // The id of the container named by ref: a full id, a name, or a unique id prefix. Throws an
  // invalid-input Error "no such container: ref", or one for an ambiguous prefix.
  std::string resolve(std::string_view ref) const;

  // Removes the container's directory with everything in it; succeeds when already gone. The
  // directory is renamed away first, so a removal cut short leaves nothing under the id.
  void remove(std::string_view id) const;

 private:
  std::filesystem::path containers_dir() const { return root_ / "containers"; }
  std::filesystem::path root_;
};

}  // namespace gctool::container
