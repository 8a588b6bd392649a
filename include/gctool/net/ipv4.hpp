// IPv4 addresses and networks as plain integers (host byte order), so that address arithmetic
// carries across octets and a subnet's network and broadcast addresses are computed, not guessed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace gctool::net {

struct Ipv4Address {
  std::uint32_t value = 0;  // host byte order: 10.0.0.1 is 0x0a000001

  friend constexpr auto operator<=>(Ipv4Address, Ipv4Address) = default;
};

struct Ipv4Network {
  Ipv4Address address;  // the network address: no host bits set
  int prefix = 0;       // 0..32

  constexpr std::uint32_t mask() const noexcept {
    return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  }
  constexpr Ipv4Address network() const noexcept { return address; }
  constexpr Ipv4Address broadcast() const noexcept { return {address.value | ~mask()}; }
  // Number of addresses, network and broadcast included (2^(32-prefix)).
  constexpr std::uint64_t size() const noexcept { return std::uint64_t{1} << (32 - prefix); }
  constexpr bool contains(Ipv4Address a) const noexcept {
    return (a.value & mask()) == address.value;
  }
  constexpr bool overlaps(const Ipv4Network& other) const noexcept {
    return contains(other.address) || other.contains(address);
  }

  friend constexpr bool operator==(const Ipv4Network&, const Ipv4Network&) = default;
};

// "10.0.0.1"; nullopt for anything else (no leading zeros tricks, no missing octets).
std::optional<Ipv4Address> try_parse_ipv4(std::string_view text);

// As try_parse_ipv4; throws `invalid IPv4 address "300.1.1.1"`.
Ipv4Address parse_ipv4(std::string_view text);

// "10.0.0.0/24". Throws a one-line invalid-input Error for a bad address or prefix
// (`invalid subnet "10.0.0.0/33": prefix must be 0..32`) and for host bits set
// (`invalid subnet "10.0.0.1/24": host bits set (did you mean 10.0.0.0/24?)`).
Ipv4Network parse_cidr(std::string_view text);

// Splits "ADDRESS/PREFIX" (of either family) into the address text and the prefix,
// 0..max_prefix. Throws a one-line invalid-input Error without a slash (`expected ADDRESS/PREFIX
// such as <example>`) or with a bad prefix (`prefix must be 0..<max_prefix>`).
std::pair<std::string_view, int> split_cidr(std::string_view text, int max_prefix,
                                            std::string_view example);

// The network containing address with that prefix (host bits cleared).
Ipv4Network network_of(Ipv4Address address, int prefix);

std::string to_string(Ipv4Address address);
std::string to_string(const Ipv4Network& network);

}  // namespace gctool::net
