// IPAM persisted per network in <root>/ipam/, changed only under an flock of <network>.journal
// (the journal is never replaced, so it is the lock too):
//
// - <network>.snapshot: the pool as of a sequence number, replaced only by an atomic rename (an
//   exchange with <network>.spare, into which the next snapshot is written, so that compaction
//   reuses the file before last instead of creating and deleting one). It holds the whole
//   bitmap, then the owners sorted by a hash of the container id and split into buckets with an
//   index of where each starts, so a process reads the bitmap and index with one pread and finds
//   one owner by reading one bucket (about 16 owners), not the others.
// - <network>.journal: the changes since the snapshot, one fixed-size record each (alloc or
//   release, address, container id, sequence number, checksum), appended with O_APPEND and, when
//   durable, fdatasync'd. A complete record is the commit point of a change. Records never
//   straddle a page, and a torn or partial record at the end (a crash during the append) is
//   ignored and cut off by the next writer; records already in the snapshot are skipped.
// - When the journal holds kCompactAfter records (more for large pools, balancing the cost of
//   replaying the journal against that of rewriting the snapshot), the writer folds it into a new
//   snapshot (atomic rename) and then empties it; a crash between the two leaves records the new
//   snapshot already has, which replay skips by sequence number.
//
// So an allocation costs two small reads, a replay of at most a few hundred records and one
// appended record whatever the number of owners, concurrent gctool processes never hand out one
// address twice, and a crash at any moment neither loses a committed allocation nor duplicates
// one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "gctool/core/atomic_file.hpp"
#include "gctool/net/ipam.hpp"
#include "gctool/net/ipv4.hpp"

namespace gctool::net {

// The persisted state of one network's pool.
struct IpamState {
  Ipam ipam;
  std::map<std::string, Ipv4Address> owners;  // container id -> its address
};

// Snapshot serialization (exposed for tests): a versioned binary with checksums. decode throws an
// invalid-input Error naming `what` for a corrupt or truncated snapshot, or when the bitmap and
// the owners disagree.
std::string encode_ipam_state(const IpamState& state, std::uint64_t sequence = 0);
IpamState decode_ipam_state(std::string_view data, const std::string& what);

class IpamStore {
 public:
  // Container ids longer than this are refused (gctool's own are 64 characters).
  static constexpr std::size_t kMaxIdLength = 96;
  // Journal records after which a writer compacts the journal into a new snapshot, for pools of
  // up to about 10,000 owners (larger ones compact less often).
  static constexpr std::size_t kCompactAfter = 128;

  // network_name names the files; subnet and gateway describe the pool (a snapshot written for
  // another subnet is an error, so a re-created network with the same name must be purge()d
  // first).
  IpamStore(std::filesystem::path root, std::string network_name, Ipv4Network subnet,
            std::optional<Ipv4Address> gateway, Durability durability = Durability::durable);

  // The address of container_id: the one it already has, else `requested` if given (an
  // invalid-input Error when taken by another container), else the next free one. Throws
  // `no free address in network NAME (SUBNET)` when the pool is full.
  Ipv4Address allocate(const std::string& container_id,
                       std::optional<Ipv4Address> requested = std::nullopt);

  // Frees container_id's address; returns it, or nullopt when it had none.
  std::optional<Ipv4Address> release(const std::string& container_id);

  // Frees the address of every owner not in live_ids; returns how many were freed.
  std::size_t reconcile(const std::set<std::string>& live_ids);

  // Makes the pool hold exactly `owners` (container id -> address), which the caller knows to be
  // the truth (the endpoints of live containers): owners missing from it are freed with journal
  // records; a pool that is damaged (unreadable snapshot or journal) or disagrees otherwise
  // (rolled back, an address moved or lost) is rewritten from it. An owner whose address is
  // outside the pool, reserved or given twice is left out. Returns how many owners were freed,
  // added or changed. O(owners): for reconciling, never on the allocation path.
  std::size_t sync(const std::map<std::string, Ipv4Address>& owners);

  // A consistent snapshot (taken under the lock), with every owner: O(owners).
  IpamState load() const;
  // Addresses allocated, without reading the owners.
  std::size_t count() const;

  // Folds the journal into a new snapshot now (writers do it on their own).
  void compact();

  // Deletes the pool's files (network rm).
  void purge();

  const std::filesystem::path& file() const noexcept { return file_; }
  const std::filesystem::path& journal_file() const noexcept { return journal_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path file_;
  std::filesystem::path journal_;
  std::string network_name_;
  Ipv4Network subnet_;
  std::optional<Ipv4Address> gateway_;
  Durability durability_;
};

}  // namespace gctool::net
