#include "gctool/core/ids.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>

#include "gctool/core/error.hpp"

namespace gctool {

namespace {

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
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

bool is_decimal(char c) {
  return c >= '0' && c <= '9';
}

bool is_lower_hex(char c) {
  return is_decimal(c) || (c >= 'a' && c <= 'f');
}

constexpr std::string_view adjectives[] = {
    "admiring", "agitated", "amazing",  "angry",   "awesome", "blissful", "bold",
    "brave",    "busy",     "charming", "clever",  "cool",    "dazzling", "determined",
    "eager",    "ecstatic", "elastic",  "elegant", "epic",    "fervent",  "festive",
    "focused",  "friendly", "gallant",  "gifted",  "happy",   "hopeful",  "jolly",
    "keen",     "kind",     "laughing", "loving",  "modest",  "nifty",    "peaceful",
    "quirky",   "relaxed",  "serene",   "sharp",   "stoic",   "upbeat",   "vibrant",
    "wizardly", "youthful", "zealous",
};

constexpr std::string_view surnames[] = {
    "agnesi",  "archimedes", "babbage",  "bardeen",  "bohr",     "boole",     "cannon",
    "curie",   "darwin",     "dijkstra", "einstein", "euclid",   "euler",     "faraday",
    "fermat",  "feynman",    "galois",   "gauss",    "goldberg", "hamilton",  "hopper",
    "hypatia", "kepler",     "knuth",    "lamarr",   "lovelace", "maxwell",   "meitner",
    "mendel",  "newton",     "noether",  "pascal",   "planck",   "ramanujan", "ritchie",
    "shannon", "thompson",   "tesla",    "turing",   "wiles",    "wright",    "yalow",
};

template <std::size_t N>
std::string_view pick(const std::string_view (&words)[N], std::uint32_t random) {
  return words[random % N];
}

}  // namespace

std::string random_id() {
  static constexpr char hex[] = "0123456789abcdef";
  for (;;) {
    const auto bytes = random_bytes<32>();
    std::string id;
    id.reserve(64);
    for (const unsigned char b : bytes) {
      id += hex[b >> 4];
      id += hex[b & 0xf];
    }
    const std::string_view prefix = std::string_view(id).substr(0, 12);
    if (!std::all_of(prefix.begin(), prefix.end(), is_decimal)) {
      return id;
    }
  }
}

std::string short_id(std::string_view id) {
  return std::string(id.substr(0, 12));
}

bool valid_id(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), is_lower_hex);
}

std::string random_name() {
  const auto bytes = random_bytes<8>();
  const auto word = [&bytes](std::size_t offset) {
    return static_cast<std::uint32_t>(bytes[offset]) << 24 |
           static_cast<std::uint32_t>(bytes[offset + 1]) << 16 |
           static_cast<std::uint32_t>(bytes[offset + 2]) << 8 | bytes[offset + 3];
  };
  return fmt::format("{}_{}", pick(adjectives, word(0)), pick(surnames, word(4)));
}

bool valid_name(std::string_view name) {
  const auto alnum = [](char c) {
    return is_decimal(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  if (name.size() < 2 || name.size() > 128 || !alnum(name.front())) {
    return false;
  }
  return std::all_of(name.begin() + 1, name.end(),
                     [&alnum](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

}  // namespace gctool
