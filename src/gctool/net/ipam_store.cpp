#include "gctool/net/ipam_store.hpp"

#include <cstring>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_lock.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool::net {
namespace {

constexpr std::string_view kMagic = "GCTIPAM1";

std::uint64_t fnv1a(std::string_view data) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : data) {
    h = (h ^ c) * 0x100000001b3ULL;
  }
  return h;
}

template <typename T>
void put(std::string& out, T value) {
  static_assert(std::is_unsigned_v<T>);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

// Reads little-endian fields; any read past the end is a truncated file.
class Reader {
 public:
  Reader(std::string_view data, const std::string& what) : data_(data), what_(what) {}

  template <typename T>
  T get() {
    need(sizeof(T));
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      value |= static_cast<T>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += sizeof(T);
    return value;
  }
  std::string_view bytes(std::size_t n) {
    need(n);
    auto s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  void need(std::size_t n) const {
    if (data_.size() - pos_ < n) {
      throw_invalid("corrupt IPAM file {}: truncated", what_);
    }
  }
  std::string_view data_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string encode_ipam_state(const IpamState& state) {
  const Ipam& ipam = state.ipam;
  std::string out(kMagic);
  put<std::uint32_t>(out, ipam.subnet().address.value);
  put<std::uint8_t>(out, static_cast<std::uint8_t>(ipam.subnet().prefix));
  put<std::uint8_t>(out, ipam.gateway() ? 1 : 0);
  put<std::uint32_t>(out, ipam.gateway() ? ipam.gateway()->value : 0);
  put<std::uint32_t>(out, ipam.cursor());
  const auto words = ipam.words();
  std::uint32_t nonzero = 0;
  for (const auto w : words) {
    nonzero += w != 0 ? 1 : 0;
  }
  put<std::uint32_t>(out, nonzero);
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] != 0) {
      put<std::uint32_t>(out, static_cast<std::uint32_t>(i));
      put<std::uint64_t>(out, words[i]);
    }
  }
  put<std::uint32_t>(out, static_cast<std::uint32_t>(state.owners.size()));
  for (const auto& [id, address] : state.owners) {
    put<std::uint16_t>(out, static_cast<std::uint16_t>(id.size()));
    out += id;
    put<std::uint32_t>(out, address.value);
  }
  put<std::uint64_t>(out, fnv1a(out));
  return out;
}

IpamState decode_ipam_state(std::string_view data, const std::string& what) {
  if (data.size() < kMagic.size() + 8 || data.substr(0, kMagic.size()) != kMagic) {
    throw_invalid("corrupt IPAM file {}: not an IPAM file", what);
  }
  Reader tail(data.substr(data.size() - 8), what);
  if (tail.get<std::uint64_t>() != fnv1a(data.substr(0, data.size() - 8))) {
    throw_invalid("corrupt IPAM file {}: checksum mismatch", what);
  }
  Reader in(data.substr(kMagic.size(), data.size() - kMagic.size() - 8), what);
  Ipv4Network subnet{{in.get<std::uint32_t>()}, in.get<std::uint8_t>()};
  const bool has_gateway = in.get<std::uint8_t>() != 0;
  const Ipv4Address gateway{in.get<std::uint32_t>()};
  const std::uint32_t cursor = in.get<std::uint32_t>();
  if (subnet.prefix < 8 || subnet.prefix > 30) {
    throw_invalid("corrupt IPAM file {}: bad prefix", what);
  }
  std::vector<std::uint64_t> words((subnet.size() + 63) / 64, 0);
  const auto nonzero = in.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < nonzero; ++i) {
    const auto index = in.get<std::uint32_t>();
    const auto word = in.get<std::uint64_t>();
    if (index >= words.size()) {
      throw_invalid("corrupt IPAM file {}: word index out of range", what);
    }
    words[index] = word;
  }
  IpamState state{Ipam::from_words(subnet, has_gateway ? std::optional(gateway) : std::nullopt,
                                   std::move(words), cursor),
                  {}};
  const auto owners = in.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < owners; ++i) {
    const auto len = in.get<std::uint16_t>();
    std::string id(in.bytes(len));
    const Ipv4Address address{in.get<std::uint32_t>()};
    if (!state.ipam.is_allocated(address)) {
      throw_invalid("corrupt IPAM file {}: owner {} holds unallocated {}", what, id,
                    to_string(address));
    }
    state.owners.emplace(std::move(id), address);
  }
  if (!in.at_end() || state.owners.size() != state.ipam.count()) {
    throw_invalid("corrupt IPAM file {}: {} owners for {} allocated addresses", what,
                  state.owners.size(), state.ipam.count());
  }
  return state;
}

IpamStore::IpamStore(std::filesystem::path root, std::string network_name, Ipv4Network subnet,
                     std::optional<Ipv4Address> gateway, Durability durability)
    : dir_(std::move(root) / "ipam"),
      file_(dir_ / (network_name + ".bin")),
      lock_file_(dir_ / (network_name + ".lock")),
      network_name_(std::move(network_name)),
      subnet_(subnet),
      gateway_(gateway),
      durability_(durability) {}

IpamState IpamStore::read_unlocked() const {
  const auto data = try_read_file(file_);
  if (!data) {
    return IpamState{Ipam(subnet_, gateway_), {}};
  }
  IpamState state = decode_ipam_state(*data, fmt::format("{}", file_));
  if (state.ipam.subnet() != subnet_ || state.ipam.gateway() != gateway_) {
    throw_invalid("IPAM file {} is for subnet {}, not {}", file_, to_string(state.ipam.subnet()),
                  to_string(subnet_));
  }
  return state;
}

void IpamStore::write_unlocked(const IpamState& state) const {
  write_file_atomic(file_, encode_ipam_state(state), durability_, 0600);
}

Ipv4Address IpamStore::allocate(const std::string& container_id,
                                std::optional<Ipv4Address> requested) {
  if (container_id.empty() || container_id.size() > 0xffff) {
    throw_invalid("invalid container id \"{}\" for IPAM", container_id);
  }
  std::filesystem::create_directories(dir_);
  const auto lock = FileLock::exclusive(lock_file_);
  IpamState state = read_unlocked();
  if (const auto it = state.owners.find(container_id); it != state.owners.end()) {
    if (requested && *requested != it->second) {
      throw_invalid("container {} already has address {} in network {}", container_id,
                    to_string(it->second), network_name_);
    }
    return it->second;
  }
  Ipv4Address address;
  if (requested) {
    if (!state.ipam.allocate(*requested)) {
      throw_invalid("address {} is already in use in network {}", to_string(*requested),
                    network_name_);
    }
    address = *requested;
  } else {
    const auto next = state.ipam.allocate();
    if (!next) {
      throw Error(ENOSPC, fmt::format("no free address in network {} ({})", network_name_,
                                      to_string(subnet_)));
    }
    address = *next;
  }
  state.owners.emplace(container_id, address);
  write_unlocked(state);
  return address;
}

std::optional<Ipv4Address> IpamStore::release(const std::string& container_id) {
  if (!std::filesystem::exists(dir_)) {
    return std::nullopt;
  }
  const auto lock = FileLock::exclusive(lock_file_);
  IpamState state = read_unlocked();
  const auto it = state.owners.find(container_id);
  if (it == state.owners.end()) {
    return std::nullopt;
  }
  const Ipv4Address address = it->second;
  state.ipam.release(address);
  state.owners.erase(it);
  write_unlocked(state);
  return address;
}

std::size_t IpamStore::reconcile(const std::set<std::string>& live_ids) {
  if (!std::filesystem::exists(dir_)) {
    return 0;
  }
  const auto lock = FileLock::exclusive(lock_file_);
  IpamState state = read_unlocked();
  std::size_t freed = 0;
  for (auto it = state.owners.begin(); it != state.owners.end();) {
    if (live_ids.contains(it->first)) {
      ++it;
    } else {
      state.ipam.release(it->second);
      it = state.owners.erase(it);
      ++freed;
    }
  }
  if (freed > 0) {
    write_unlocked(state);
  }
  return freed;
}

IpamState IpamStore::load() const {
  if (!std::filesystem::exists(dir_)) {
    return IpamState{Ipam(subnet_, gateway_), {}};
  }
  const auto lock = FileLock::shared(lock_file_);
  return read_unlocked();
}

void IpamStore::purge() {
  if (!std::filesystem::exists(dir_)) {
    return;
  }
  {
    const auto lock = FileLock::exclusive(lock_file_);
    std::filesystem::remove(file_);
  }
  std::filesystem::remove(lock_file_);
}

}  // namespace gctool::net
