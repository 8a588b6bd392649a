// Registry credentials as Docker and Podman keep them: a JSON file with
// {"auths": {"<registry>": {"auth": base64("user:password")}}}. gctool writes Docker's
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) and reads it, then Podman's
// ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json), so existing logins work;
// --authfile names the one file to use instead.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gctool::registry {

struct Credentials {
  std::string username;
  std::string password;
};

// The key of a registry in the auths map: Docker's default registry has its historical URL.
std::string auth_key(std::string_view domain);

// The file login writes: authfile if given, else Docker's config.json.
std::filesystem::path login_file(const std::filesystem::path& authfile = {});

// The files searched for credentials, in order.
std::vector<std::filesystem::path> credential_files(const std::filesystem::path& authfile = {});

// The credentials stored for domain, if any (entries written as "https://host/v1/" or "host" both
// match).
std::optional<Credentials> find_credentials(std::string_view domain,
                                            const std::filesystem::path& authfile = {});

// Adds or replaces the entry of domain in file (created 0600, replaced atomically; the rest of the
// file is kept).
void store_credentials(const std::filesystem::path& file, std::string_view domain,
                       const Credentials& credentials);

// Removes the entry of domain from file; false when there was none.
bool erase_credentials(const std::filesystem::path& file, std::string_view domain);

std::string base64_encode(std::string_view data);
std::string base64_decode(std::string_view text);  // throws on malformed input

// An HTTP authentication challenge: `Bearer realm="...",service="...",scope="..."`.
struct Challenge {
  std::string scheme;                         // lower case: "bearer", "basic"
  std::map<std::string, std::string> params;  // names in lower case
};
std::optional<Challenge> parse_challenge(std::string_view header);

}  // namespace gctool::registry
