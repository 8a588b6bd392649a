// IPv6 addresses and networks (for networks created with --ipv6): 16 bytes in network order,
// parsed and printed by the C library (RFC 5952's shortest form), with a subnet's host addresses
// counted from its network address.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/net/ipv4.hpp"

namespace gctool::net {

struct Ipv6Address {
  std::array<std::uint8_t, 16> bytes{};

  friend constexpr auto operator<=>(const Ipv6Address&, const Ipv6Address&) = default;
};

struct Ipv6Network {
  Ipv6Address address;  // the network address: no host bits set
  int prefix = 0;       // 0..128

  bool contains(const Ipv6Address& a) const noexcept;
  bool overlaps(const Ipv6Network& other) const noexcept {
    return contains(other.address) || other.contains(address);
  }
  // The address `offset` after the network address (offset must fit the host bits).
  Ipv6Address host(std::uint64_t offset) const noexcept;
  // How far a is from the network address when that fits 64 bits and a is in the subnet.
  std::optional<std::uint64_t> offset_of(const Ipv6Address& a) const noexcept;

  friend constexpr bool operator==(const Ipv6Network&, const Ipv6Network&) = default;
};

// Whether text looks like an IPv6 address or subnet rather than an IPv4 one (it holds a ':').
inline bool is_ipv6_text(std::string_view text) {
  return text.find(':') != std::string_view::npos;
}

namespace detail {

// The address with every bit past `prefix` cleared.
inline Ipv6Address masked(Ipv6Address a, int prefix) noexcept {
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(prefix - i * 8, 0, 8);
    a.bytes[i] &= static_cast<std::uint8_t>(0xff00 >> keep);
  }
  return a;
}

}  // namespace detail

inline bool Ipv6Network::contains(const Ipv6Address& a) const noexcept {
  return detail::masked(a, prefix) == address;
}

inline Ipv6Address Ipv6Network::host(std::uint64_t offset) const noexcept {
  Ipv6Address a = address;
  unsigned carry = 0;
  for (int i = 15; i >= 0; --i) {
    const unsigned sum = a.bytes[i] + static_cast<unsigned>(offset & 0xff) + carry;
    a.bytes[i] = static_cast<std::uint8_t>(sum);
    carry = sum >> 8;
    offset >>= 8;
  }
  return a;
}

inline std::optional<std::uint64_t> Ipv6Network::offset_of(const Ipv6Address& a) const noexcept {
  if (!contains(a)) {
    return std::nullopt;
  }
  std::uint64_t offset = 0;
  for (int i = 0; i < 16; ++i) {
    const std::uint8_t host_bits = a.bytes[i] ^ address.bytes[i];
    if (i < 8 && host_bits != 0) {
      return std::nullopt;  // beyond 64 bits
    }
    if (i >= 8) {
      offset = offset << 8 | host_bits;
    }
  }
  return offset;
}

inline std::string to_string(const Ipv6Address& a) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, a.bytes.data(), text, sizeof text);
  return text;
}

inline std::string to_string(const Ipv6Network& n) {
  return fmt::format("{}/{}", to_string(n.address), n.prefix);
}

// "fd00::1"; nullopt for anything else (IPv4 dotted forms included).
inline std::optional<Ipv6Address> try_parse_ipv6(std::string_view text) {
  // inet_pton also takes an embedded IPv4 tail ("::ffff:1.2.3.4"), which is a valid form.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || !is_ipv6_text(text)) {
    return std::nullopt;
  }
  const std::string copy(text);
  Ipv6Address a;
  if (::inet_pton(AF_INET6, copy.c_str(), a.bytes.data()) != 1) {
    return std::nullopt;
  }
  return a;
}

// As try_parse_ipv6; throws `invalid IPv6 address "x"`.
inline Ipv6Address parse_ipv6(std::string_view text) {
  if (auto a = try_parse_ipv6(text)) {
    return *a;
  }
  throw_invalid("invalid IPv6 address \"{}\"", text);
}

// "fd00:1::/64". Throws a one-line invalid-input Error for a bad address or prefix and for host
// bits set (`invalid subnet "fd00::1/64": host bits set (did you mean fd00::/64?)`).
inline Ipv6Network parse_cidr6(std::string_view text) {
  const auto [address_text, prefix] = split_cidr(text, 128, "fd00:1::/64");
  const auto address = try_parse_ipv6(address_text);
  if (!address) {
    throw_invalid("invalid subnet \"{}\": \"{}\" is not an IPv6 address", text, address_text);
  }
  const Ipv6Network network{detail::masked(*address, prefix), prefix};
  if (network.address != *address) {
    throw_invalid("invalid subnet \"{}\": host bits set (did you mean {}?)", text,
                  to_string(network));
  }
  return network;
}

}  // namespace gctool::net
