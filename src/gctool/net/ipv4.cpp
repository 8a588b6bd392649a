#include "gctool/net/ipv4.hpp"

#include <charconv>
#include <string>

#include <fmt/format.h>

#include "gctool/core/error.hpp"

namespace gctool::net {

std::optional<Ipv4Address> try_parse_ipv4(std::string_view text) {
  std::uint32_t value = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (p == end || *p != '.') {
        return std::nullopt;
      }
      ++p;
    }
    // Digits only (from_chars would accept nothing else anyway), at most 3 of them.
    const char* start = p;
    unsigned part = 0;
    const auto [next, ec] = std::from_chars(p, end, part);
    if (ec != std::errc{} || next == start || next - start > 3 || part > 255) {
      return std::nullopt;
    }
    p = next;
    value = (value << 8) | part;
  }
  if (p != end) {
    return std::nullopt;
  }
  return Ipv4Address{value};
}

Ipv4Address parse_ipv4(std::string_view text) {
  if (auto a = try_parse_ipv4(text)) {
    return *a;
  }
  throw_invalid("invalid IPv4 address \"{}\"", text);
}

std::pair<std::string_view, int> split_cidr(std::string_view text, int max_prefix,
                                            std::string_view example) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    throw_invalid("invalid subnet \"{}\": expected ADDRESS/PREFIX such as {}", text, example);
  }
  const auto prefix_text = text.substr(slash + 1);
  int prefix = -1;
  const auto [next, ec] =
      std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
  if (ec != std::errc{} || next != prefix_text.data() + prefix_text.size() || prefix < 0 ||
      prefix > max_prefix || prefix_text.size() > std::to_string(max_prefix).size()) {
    throw_invalid("invalid subnet \"{}\": prefix must be 0..{}", text, max_prefix);
  }
  return {text.substr(0, slash), prefix};
}

Ipv4Network parse_cidr(std::string_view text) {
  const auto [address_text, prefix] = split_cidr(text, 32, "10.1.2.0/24");
  const auto address = try_parse_ipv4(address_text);
  if (!address) {
    throw_invalid("invalid subnet \"{}\": \"{}\" is not an IPv4 address", text, address_text);
  }
  const Ipv4Network network = network_of(*address, prefix);
  if (network.address != *address) {
    throw_invalid("invalid subnet \"{}\": host bits set (did you mean {}?)", text,
                  to_string(network));
  }
  return network;
}

Ipv4Network network_of(Ipv4Address address, int prefix) {
  Ipv4Network n{{0}, prefix};
  n.address.value = address.value & n.mask();
  return n;
}

std::string to_string(Ipv4Address a) {
  return fmt::format("{}.{}.{}.{}", a.value >> 24, (a.value >> 16) & 0xff, (a.value >> 8) & 0xff,
                     a.value & 0xff);
}

std::string to_string(const Ipv4Network& n) {
  return fmt::format("{}/{}", to_string(n.address), n.prefix);
}

}  // namespace gctool::net
