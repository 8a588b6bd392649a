#include "gctool/image/sha256.hpp"

#include <openssl/evp.h>

#include <new>

#include <fmt/format.h>

namespace gctool::image {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::bad_alloc();
  }
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
}

void Sha256::update(std::span<const std::byte> data) noexcept {
  // SHA-256 over memory cannot fail once initialised.
  EVP_DigestUpdate(ctx_, data.data(), data.size());
}

std::array<std::uint8_t, 32> Sha256::finish() noexcept {
  std::array<std::uint8_t, 32> out{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx_, out.data(), &size);
  return out;
}

std::string Sha256::hex() noexcept {
  const auto digest = finish();
  return fmt::format("{:02x}", fmt::join(digest, ""));
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex();
}

}  // namespace gctool::image
