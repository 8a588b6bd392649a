// A libnftables context: runs nft commands as one transaction each and turns a failure into a
// gctool::Error carrying nft's own message. Output is captured, never printed.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

struct nft_ctx;

namespace gctool::net {

class Nftables {
 public:
  Nftables();
  Nftables(const Nftables&) = delete;
  Nftables& operator=(const Nftables&) = delete;
  ~Nftables();

  // Runs the commands (one per line, applied atomically). Throws an invalid-input Error
  // `<what>: nft: <first line of nft's error>` on failure; returns nft's output.
  std::string run(std::string_view commands, std::string_view what);

  // Runs commands given in nft's JSON form ({"nftables": [...]}), as one transaction.
  void run_json(const nlohmann::json& commands, std::string_view what);

  // Runs a list command with JSON output and rule handles.
  nlohmann::json list_json(std::string_view command, std::string_view what);

 private:
  nft_ctx* ctx_;
};

}  // namespace gctool::net
