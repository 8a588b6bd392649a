#include "gctool/net/ipam.hpp"

#include <bit>

#include "gctool/core/error.hpp"

namespace gctool::net {
namespace {

constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};

void check_subnet(const Ipv4Network& subnet) {
  if (subnet.prefix < 8 || subnet.prefix > 30) {
    throw_invalid("subnet {} is not supported: the prefix must be /8 to /30", to_string(subnet));
  }
}

// Most words of a pool are empty or full: those are counted without std::popcount, which is a
// library call unless the compiler may assume the POPCNT instruction. A persisted pool is rebuilt
// from its words on every change, so this is on the allocation path.
std::size_t count_ones(std::uint64_t word) noexcept {
  if (word == 0) {
    return 0;
  }
  if (word == kAllOnes) {
    return 64;
  }
  return static_cast<std::size_t>(std::popcount(word));
}

}  // namespace

namespace {

void check_gateway(const Ipv4Network& subnet, std::optional<Ipv4Address> gateway) {
  if (gateway && (!subnet.contains(*gateway) || *gateway == subnet.network() ||
                  *gateway == subnet.broadcast())) {
    throw_invalid("gateway {} is not a host address of subnet {}", to_string(*gateway),
                  to_string(subnet));
  }
}

}  // namespace

Ipam::Ipam(Ipv4Network subnet, std::optional<Ipv4Address> gateway)
    : subnet_(subnet), gateway_(gateway) {
  check_subnet(subnet);
  check_gateway(subnet, gateway);
  const std::uint64_t size = subnet.size();
  words_.assign((size + 63) / 64, 0);
  full_.assign((words_.size() + 63) / 64, 0);
  capacity_ = size - 2 - (gateway ? 1 : 0);
  reserve_fixed();
}

// One pass over the words (a persisted pool is rebuilt from its words on every change, so this
// is on the allocation path): the reserved bits are tested where they are, not compared with a
// fresh bitmap.
Ipam Ipam::from_words(Ipv4Network subnet, std::optional<Ipv4Address> gateway,
                      std::vector<std::uint64_t> words, std::uint32_t cursor) {
  check_subnet(subnet);
  check_gateway(subnet, gateway);
  const std::uint64_t size = subnet.size();
  if (words.size() != (size + 63) / 64) {
    throw_invalid("IPAM bitmap of {} words does not fit subnet {}", words.size(),
                  to_string(subnet));
  }
  Ipam ipam;
  ipam.subnet_ = subnet;
  ipam.gateway_ = gateway;
  ipam.capacity_ = size - 2 - (gateway ? 1 : 0);
  ipam.words_ = std::move(words);
  // Reserved: the network and broadcast addresses, the gateway, bits past a small subnet's end.
  std::size_t reserved = 0;
  const auto reserved_bit = [&](std::uint64_t offset) {
    if (!ipam.test_bit(offset)) {
      throw_invalid("IPAM bitmap of subnet {} frees a reserved address", to_string(subnet));
    }
    ++reserved;
  };
  reserved_bit(0);
  reserved_bit(size - 1);
  if (gateway) {
    reserved_bit(gateway->value - subnet.address.value);
  }
  for (std::uint64_t bit = size; bit < ipam.words_.size() * 64; ++bit) {
    reserved_bit(bit);
  }
  ipam.full_.assign((ipam.words_.size() + 63) / 64, 0);
  std::size_t ones = 0;
  for (std::size_t i = 0; i < ipam.words_.size(); ++i) {
    const auto w = ipam.words_[i];
    if (w == kAllOnes) {
      ones += 64;
      ipam.full_[i / 64] |= std::uint64_t{1} << (i % 64);
    } else {
      ones += count_ones(w);
    }
  }
  ipam.count_ = ones - reserved;
  ipam.cursor_ = cursor < size ? cursor : 0;
  return ipam;
}

void Ipam::reserve_fixed() noexcept {
  const std::uint64_t size = subnet_.size();
  set_bit(0);
  set_bit(size - 1);
  if (gateway_) {
    set_bit(gateway_->value - subnet_.address.value);
  }
  // Bits past the end of a subnet smaller than a word are never addresses.
  for (std::uint64_t bit = size; bit < words_.size() * 64; ++bit) {
    set_bit(bit);
  }
}

void Ipam::set_bit(std::uint64_t offset) noexcept {
  auto& word = words_[offset / 64];
  word |= std::uint64_t{1} << (offset % 64);
  if (word == kAllOnes) {
    full_[offset / 4096] |= std::uint64_t{1} << ((offset / 64) % 64);
  }
}

void Ipam::clear_bit(std::uint64_t offset) noexcept {
  words_[offset / 64] &= ~(std::uint64_t{1} << (offset % 64));
  full_[offset / 4096] &= ~(std::uint64_t{1} << ((offset / 64) % 64));
}

bool Ipam::test_bit(std::uint64_t offset) const noexcept {
  return (words_[offset / 64] >> (offset % 64)) & 1;
}

std::optional<std::size_t> Ipam::next_free_word(std::size_t from, std::size_t end) const noexcept {
  while (from < end) {
    // Not-full words among this summary word's, starting at `from`.
    std::uint64_t candidates = ~full_[from / 64] & (kAllOnes << (from % 64));
    if (candidates != 0) {
      const std::size_t word =
          (from / 64) * 64 + static_cast<std::size_t>(std::countr_zero(candidates));
      return word < end ? std::optional(word) : std::nullopt;
    }
    from = (from / 64 + 1) * 64;
  }
  return std::nullopt;
}

std::optional<Ipv4Address> Ipam::allocate() {
  if (count_ == capacity_) {
    return std::nullopt;
  }
  const std::size_t start_word = cursor_ / 64;
  // The cursor's own word, from the cursor bit on.
  std::uint64_t free_bits = ~words_[start_word] & (kAllOnes << (cursor_ % 64));
  std::optional<std::size_t> word;
  if (free_bits != 0) {
    word = start_word;
  } else {
    word = next_free_word(start_word + 1, words_.size());
    if (!word) {
      word = next_free_word(0, start_word + 1);
    }
    if (!word) {
      return std::nullopt;  // unreachable while count_ < capacity_
    }
    free_bits = ~words_[*word];
  }
  const std::uint64_t offset = *word * 64 + static_cast<std::uint64_t>(std::countr_zero(free_bits));
  set_bit(offset);
  ++count_;
  cursor_ = static_cast<std::uint32_t>((offset + 1) % subnet_.size());
  return Ipv4Address{static_cast<std::uint32_t>(subnet_.address.value + offset)};
}

bool Ipam::allocate(Ipv4Address address) {
  if (!subnet_.contains(address)) {
    throw_invalid("address {} is not in subnet {}", to_string(address), to_string(subnet_));
  }
  if (address == subnet_.network() || address == subnet_.broadcast() || address == gateway_) {
    throw_invalid("address {} is reserved in subnet {} (network, broadcast or gateway)",
                  to_string(address), to_string(subnet_));
  }
  const std::uint64_t offset = address.value - subnet_.address.value;
  if (test_bit(offset)) {
    return false;
  }
  set_bit(offset);
  ++count_;
  return true;
}

bool Ipam::release(Ipv4Address address) {
  if (!subnet_.contains(address) || address == subnet_.network() ||
      address == subnet_.broadcast() || address == gateway_) {
    return false;
  }
  const std::uint64_t offset = address.value - subnet_.address.value;
  if (!test_bit(offset)) {
    return false;
  }
  clear_bit(offset);
  --count_;
  return true;
}

bool Ipam::is_allocated(Ipv4Address address) const noexcept {
  if (!subnet_.contains(address) || address == subnet_.network() ||
      address == subnet_.broadcast() || address == gateway_) {
    return false;
  }
  return test_bit(address.value - subnet_.address.value);
}

}  // namespace gctool::net
