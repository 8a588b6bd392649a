// SHA-256 (FIPS 180-4), for content addresses: layer diff_ids, blob digests and image ids.
// OpenSSL's EVP implementation, which uses the CPU's SHA extensions or vector units where it has
// them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

// OpenSSL's EVP_MD_CTX, kept out of this header.
struct evp_md_ctx_st;

namespace gctool::image {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::byte> data) noexcept;
  void update(std::string_view data) noexcept { update(std::as_bytes(std::span(data))); }

  // The digest of everything passed to update(); the object must not be updated afterwards.
  std::array<std::uint8_t, 32> finish() noexcept;
  // finish() as 64 lower-case hex digits.
  std::string hex() noexcept;

 private:
  evp_md_ctx_st* ctx_;
};

// The hex SHA-256 of data.
std::string sha256_hex(std::string_view data);

// "sha256:<hex>" of data, the form used by image ids and digests.
inline std::string sha256_digest(std::string_view data) {
  return "sha256:" + sha256_hex(data);
}

}  // namespace gctool::image
