// Container identity: random 64-hex IDs, their 12-character short form, and Docker-style names.
#pragma once

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "gctool/core/decimal.hpp"
#include "gctool/core/error.hpp"

namespace gctool {

// 64 lowercase hex digits from getrandom(2). The short form is never all digits, so it cannot be
// taken for a number (a pid, an index).
std::string random_id();

// The first 12 characters (all of id when shorter): what `ps` shows.
std::string short_id(std::string_view id);

// Whether id is a full ID as random_id makes: 64 lowercase hex digits.
bool valid_id(std::string_view id);

// A name such as "eager_lovelace" for a container started without --name.
std::string random_name();

// Docker's rule for container and network names, [a-zA-Z0-9][a-zA-Z0-9_.-]+, with at most 128
// characters so that a name always fits in a file name.
bool valid_name(std::string_view name);

// The definitions: header-only, as all of gctool::core.
namespace detail {

template <std::size_t N>
inline std::array<unsigned char, N> random_bytes() {
  std::array<unsigned char, N> bytes{};
  std::size_t filled = 0;
  while (filled < N) {
    const ssize_t n = ::getrandom(bytes.data() + filled, N - filled, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("getrandom");
    }
    filled += static_cast<std::size_t>(n);
  }
  return bytes;
}

inline bool is_lower_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}

inline constexpr std::string_view adjectives[] = {
    "admiring", "agitated", "amazing",  "angry",   "awesome", "blissful", "bold",
    "brave",    "busy",     "charming", "clever",  "cool",    "dazzling", "determined",
    "eager",    "ecstatic", "elastic",  "elegant", "epic",    "fervent",  "festive",
    "focused",  "friendly", "gallant",  "gifted",  "happy",   "hopeful",  "jolly",
    "keen",     "kind",     "laughing", "loving",  "modest",  "nifty",    "peaceful",
    "quirky",   "relaxed",  "serene",   "sharp",   "stoic",   "upbeat",   "vibrant",
    "wizardly", "youthful", "zealous",
};

inline constexpr std::string_view surnames[] = {
    "agnesi",  "archimedes", "babbage",  "bardeen",  "bohr",     "boole",     "cannon",
    "curie",   "darwin",     "dijkstra", "einstein", "euclid",   "euler",     "faraday",
    "fermat",  "feynman",    "galois",   "gauss",    "goldberg", "hamilton",  "hopper",
    "hypatia", "kepler",     "knuth",    "lamarr",   "lovelace", "maxwell",   "meitner",
    "mendel",  "newton",     "noether",  "pascal",   "planck",   "ramanujan", "ritchie",
    "shannon", "thompson",   "tesla",    "turing",   "wiles",    "wright",    "yalow",
};

template <std::size_t N>
inline std::string_view pick(const std::string_view (&words)[N], std::uint32_t random) {
  return words[random % N];
}

}  // namespace detail

inline std::string random_id() {
  static constexpr char hex[] = "0123456789abcdef";
  for (;;) {
    const auto bytes = detail::random_bytes<32>();
    std::string id;
    id.reserve(64);
    for (const unsigned char b : bytes) {
      id += hex[b >> 4];
      id += hex[b & 0xf];
    }
    const std::string_view prefix = std::string_view(id).substr(0, 12);
    if (!std::all_of(prefix.begin(), prefix.end(), detail::is_digit)) {
      return id;
    }
  }
}

inline std::string short_id(std::string_view id) {
  return std::string(id.substr(0, 12));
}

inline bool valid_id(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), detail::is_lower_hex);
}

inline std::string random_name() {
  const auto bytes = detail::random_bytes<8>();
  const auto word = [&bytes](std::size_t offset) {
    return static_cast<std::uint32_t>(bytes[offset]) << 24 |
           static_cast<std::uint32_t>(bytes[offset + 1]) << 16 |
           static_cast<std::uint32_t>(bytes[offset + 2]) << 8 | bytes[offset + 3];
  };
  return fmt::format("{}_{}", detail::pick(detail::adjectives, word(0)),
                     detail::pick(detail::surnames, word(4)));
}

inline bool valid_name(std::string_view name) {
  const auto alnum = [](char c) {
    return detail::is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  if (name.size() < 2 || name.size() > 128 || !alnum(name.front())) {
    return false;
  }
  return std::all_of(name.begin() + 1, name.end(),
                     [&alnum](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

}  // namespace gctool
