#include "gctool/net/nftables.hpp"

#include <nftables/libnftables.h>

#include "gctool/core/error.hpp"

namespace gctool::net {

Nftables::Nftables() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
  if (ctx_ == nullptr) {
    throw Error(ENOMEM, "create nftables context");
  }
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

Nftables::~Nftables() {
  nft_ctx_free(ctx_);
}

std::string Nftables::run(std::string_view commands, std::string_view what) {
  const std::string text(commands);
  const int rc = nft_run_cmd_from_buffer(ctx_, text.c_str());
  std::string out = nft_ctx_get_output_buffer(ctx_);
  std::string err = nft_ctx_get_error_buffer(ctx_);
  if (rc != 0) {
    const auto nl = err.find('\n');
    throw_invalid("{}: nft: {}", what, err.empty() ? "failed" : err.substr(0, nl));
  }
  return out;
}

void Nftables::run_json(const nlohmann::json& commands, std::string_view what) {
  // libnftables 1.0.6 reads its input as JSON when its output is JSON.
  const unsigned flags = nft_ctx_output_get_flags(ctx_);
  nft_ctx_output_set_flags(ctx_, flags | NFT_CTX_OUTPUT_JSON);
  try {
    run(commands.dump(), what);
  } catch (...) {
    nft_ctx_output_set_flags(ctx_, flags);
    throw;
  }
  nft_ctx_output_set_flags(ctx_, flags);
}

nlohmann::json Nftables::list_json(std::string_view command, std::string_view what) {
  const unsigned flags = nft_ctx_output_get_flags(ctx_);
  nft_ctx_output_set_flags(ctx_, flags | NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
  std::string out;
  try {
    out = run(command, what);
  } catch (...) {
    nft_ctx_output_set_flags(ctx_, flags);
    throw;
  }
  nft_ctx_output_set_flags(ctx_, flags);
  auto json = nlohmann::json::parse(out, nullptr, false);
  if (json.is_discarded()) {
    throw_invalid("{}: nft printed JSON that does not parse", what);
  }
  return json;
}

}  // namespace gctool::net
