// IPAM persisted per network in <root>/ipam/<network>.bin, changed only under an flock of
// <root>/ipam/<network>.lock and replaced by an atomic rename: the rename is the commit point,
// so concurrent gctool processes never hand out one address twice and a crash at any moment
// leaves either the allocation before or the one after, never a lost or duplicated address.
//
// The file holds the non-zero bitmap words and the owners (container id -> address): its size
// and the cost of a change grow with the allocations, not with the size of the subnet.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "gctool/core/atomic_file.hpp"
#include "gctool/net/ipam.hpp"
#include "gctool/net/ipv4.hpp"

namespace gctool::net {

// The persisted state of one network's pool.
struct IpamState {
  Ipam ipam;
  std::map<std::string, Ipv4Address> owners;  // container id -> its address
};

// Serialization (exposed for tests): a versioned binary with a checksum. decode throws an
// invalid-input Error naming `what` for a corrupt or truncated file, or when the bitmap and the
// owners disagree.
std::string encode_ipam_state(const IpamState& state);
IpamState decode_ipam_state(std::string_view data, const std::string& what);

class IpamStore {
 public:
  // network_name names the file; subnet and gateway describe the pool (a file written for another
  // subnet is an error, so a re-created network with the same name must be purge()d first).
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

  // A consistent snapshot (taken under the lock).
  IpamState load() const;
  std::size_t count() const { return load().ipam.count(); }

  // Deletes the pool's files (network rm).
  void purge();

  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  IpamState read_unlocked() const;
  void write_unlocked(const IpamState& state) const;

  std::filesystem::path dir_;
  std::filesystem::path file_;
  std::filesystem::path lock_file_;
  std::string network_name_;
  Ipv4Network subnet_;
  std::optional<Ipv4Address> gateway_;
  Durability durability_;
};

}  // namespace gctool::net
