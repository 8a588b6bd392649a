// SHA-256 (FIPS 180-4), for content addresses: layer diff_ids, blob digests and image ids. Written
// here because the dependencies have no crypto library; speed is secondary to staying small.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace gctool::image {

class Sha256 {
 public:
  Sha256() noexcept;

  void update(std::span<const std::byte> data) noexcept;
  void update(std::string_view data) noexcept { update(std::as_bytes(std::span(data))); }

  // The digest of everything passed to update(); the object must not be updated afterwards.
  std::array<std::uint8_t, 32> finish() noexcept;
  // finish() as 64 lower-case hex digits.
  std::string hex() noexcept;

 private:
  void compress(const std::uint8_t* block) noexcept;

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

// The hex SHA-256 of data.
std::string sha256_hex(std::string_view data);

// "sha256:<hex>" of data, the form used by image ids and digests.
inline std::string sha256_digest(std::string_view data) {
  return "sha256:" + sha256_hex(data);
}

}  // namespace gctool::image
