// The containers of a data root: <root>/containers/<id>/config.json for each one, and
// <root>/containers.lock, held by every change so that names stay unique and two gctool processes
// never interleave their writes.
//
// One damaged record never stops the others: listings skip it (telling the store's handler), and
// resolve() still finds it so that `rm -f` can remove it. Reading and removing never need free
// disk space, and a record that cannot be replaced on a full disk is rewritten in place.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/container/state.hpp"
#include "gctool/core/atomic_file.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_lock.hpp"

namespace gctool::container {

// A container directory whose config.json cannot be read (truncated, corrupt, not a record).
struct BrokenRecord {
  std::string id;
  RecordIdentity identity;  // what could be salvaged
  std::string error;        // why it cannot be read, naming the file
};

// Told about each broken record a store comes across, once per store object (the CLI prints a
// warning line).
using BrokenRecordHandler = std::function<void(const BrokenRecord&)>;

class ContainerStore {
 public:
  explicit ContainerStore(std::filesystem::path root, BrokenRecordHandler on_broken = {});

  const std::filesystem::path& root() const noexcept { return root_; }
  std::filesystem::path dir(std::string_view id) const;
  std::filesystem::path config_path(std::string_view id) const;

  // The store lock (created with its directories when missing). Writes below expect it held.
  FileLock lock() const;
  // The store lock while the store exists, nullopt once its root is gone: for the owner of a
  // container (its supervisor), which must not bring back a root removed under it.
  std::optional<FileLock> lock_if_present() const;

  // What create() does when another container holds the record's name.
  enum class NameConflict {
    fail,        // an invalid-input Error: `the container name "/x" is already in use by ...`
    draw_again,  // a generated name: draw random names (record.name and spec.name) until free
  };

  // Creates the container's directory and writes its first record; the name is checked against
  // the stored records (and the names salvaged from broken ones) in one listing.
  void create(Record& record, Durability durability,
              NameConflict on_conflict = NameConflict::fail) const;

  // Replaces the record; false (nothing written) when the container was removed meanwhile. When
  // the disk is too full for a new file, the record is rewritten in the old file's blocks.
  bool save(const Record& record, Durability durability) const;

  // Gives the container id the new name (a valid one), checked against every name in use as
  // create() does. Takes effect at once, also for a container whose owner saves its record
  // later: owners keep the stored name.
  void rename(std::string_view id, std::string_view name, Durability durability) const;

  // The record, or nullopt when there is no such container (any more). Throws an Error naming
  // the file when the record is broken.
  std::optional<Record> load(std::string_view id) const;

  // The broken record of id; nullopt when it can be read or does not exist.
  std::optional<BrokenRecord> load_broken(std::string_view id) const;

  // How much of each record a listing reads: all of it, what record_for_listing reads (much
  // faster; such records are for showing, load() the one to change), or only the ids and names
  // (record_names; for finding a container).
  enum class Detail { whole, listing, names };

  struct Listing {
    std::vector<Record> records;  // oldest first
    std::vector<BrokenRecord> broken;
    std::vector<std::filesystem::path> leftovers;  // directories without a record
  };
  // Every container directory, read.
  Listing scan(Detail detail = Detail::whole) const;

  // Deletes what removals and creates cut short left (directories without a record, listed by
  // scan()). With the lock held only: a create makes the directory, then the record.
  void remove_leftovers(const Listing& listing) const;

  // Every container whose record can be read, oldest first.
  std::vector<Record> list() const { return scan().records; }

  // The id of the container named by ref: a full id, a name, or a unique id prefix (broken
  // records included). Throws an invalid-input Error "no such container: ref", or one for an
  // ambiguous prefix.
  std::string resolve(std::string_view ref) const;

  // Removes the container's directory with everything in it; succeeds when already gone. The
  // directory is renamed away first, so a removal cut short leaves nothing under the id.
  // Unmounts its host-side mounts first (see release_host_mounts).
  void remove(std::string_view id) const;

  // remove() in two steps, so that the store lock need not be held while a tree is deleted:
  // detach() (under the lock) unmounts and renames the directory away and returns where it went
  // (empty when it was already gone); erase() deletes that, with or without the lock. A list()
  // meanwhile may delete it too: erase() tolerates that.
  std::filesystem::path detach(std::string_view id) const;
  static void erase(const std::filesystem::path& detached);

  // The one mount gctool makes on the host side: a shareable container's /dev/shm
  // (<dir>/shm, see --ipc shareable), which lives while the container runs.
  std::filesystem::path shm_dir(std::string_view id) const { return dir(id) / "shm"; }
  // Unmounts it (detached: a container that joined the IPC namespace keeps its own bind); nothing
  // when it is not mounted.
  void release_host_mounts(std::string_view id) const noexcept;

 private:
  struct Read {
    std::optional<Record> record;
    std::optional<BrokenRecord> broken;  // both empty: no such container
  };
  // containers: the containers directory when the caller has it open.
  Read read(std::string_view id, Detail detail = Detail::whole, BorrowedFd containers = {}) const;
  std::optional<std::string> read_text(std::string_view id, BorrowedFd containers) const;
  void report(const BrokenRecord& broken) const;

  std::filesystem::path containers_dir() const { return root_ / "containers"; }
  std::filesystem::path root_;
  BrokenRecordHandler on_broken_;
  mutable std::set<std::string> reported_;
};

}  // namespace gctool::container
