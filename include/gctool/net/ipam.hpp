// The IPv4 address allocator, pure: no files, no locks (the store in ipam_store.hpp persists it,
// as CNI host-local separates its allocator from its Store). One bit per address in 64-bit words,
// plus a summary with one bit per word that is full, so a search skips 64 full words per
// summary bit instead of testing addresses one by one. Allocation is next-fit: it continues after
// the last address handed out, so a released address is not reused at once.
//
// The network address, the broadcast address and the gateway are set in the bitmap from the
// start and never handed out. Memory is the bitmap alone: 2 MiB for a /8, 32 bytes for a /24.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gctool/net/ipv4.hpp"

namespace gctool::net {

class Ipam {
 public:
  // Throws an invalid-input Error for a subnet outside /8../30 or a gateway that is not a usable
  // host address of the subnet.
  Ipam(Ipv4Network subnet, std::optional<Ipv4Address> gateway);

  // Rebuilds an allocator from persisted words (as returned by words()) and a next-fit cursor.
  // Throws an invalid-input Error when the words do not fit the subnet or clear a reserved bit.
  static Ipam from_words(Ipv4Network subnet, std::optional<Ipv4Address> gateway,
                         std::vector<std::uint64_t> words, std::uint32_t cursor);

  // The next free address after the previous allocation (wrapping around), or nullopt when the
  // subnet is full. O(1) amortized.
  std::optional<Ipv4Address> allocate();

  // Takes a specific address. False when it is already allocated; throws an invalid-input Error
  // when it is outside the subnet or is the network, broadcast or gateway address.
  bool allocate(Ipv4Address address);

  // Frees an allocated address; false when it was not allocated (or is reserved).
  bool release(Ipv4Address address);

  bool is_allocated(Ipv4Address address) const noexcept;

  // Addresses handed out (reserved addresses not counted).
  std::size_t count() const noexcept { return count_; }
  // Addresses that can be handed out in total.
  std::size_t capacity() const noexcept { return capacity_; }

  const Ipv4Network& subnet() const noexcept { return subnet_; }
  std::optional<Ipv4Address> gateway() const noexcept { return gateway_; }
  std::span<const std::uint64_t> words() const noexcept { return words_; }
  // Offset (from the network address) where the next search starts.
  std::uint32_t cursor() const noexcept { return cursor_; }

 private:
  Ipam() = default;  // from_words fills it in
  void set_bit(std::uint64_t offset) noexcept;
  void clear_bit(std::uint64_t offset) noexcept;
  bool test_bit(std::uint64_t offset) const noexcept;
  // First word at or after `from` (up to `end`) with a free bit, using the summary.
  std::optional<std::size_t> next_free_word(std::size_t from, std::size_t end) const noexcept;
  void reserve_fixed() noexcept;

  Ipv4Network subnet_;
  std::optional<Ipv4Address> gateway_;
  std::vector<std::uint64_t> words_;
  std::vector<std::uint64_t> full_;  // bit i set: words_[i] is all ones
  std::size_t count_ = 0;
  std::size_t capacity_ = 0;
  std::uint32_t cursor_ = 0;
};

}  // namespace gctool::net
