#include "gctool/registry/auth.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "gctool/core/atomic_file.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/json_file.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gctool::registry {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// "https://index.docker.io/v1/" -> "index.docker.io", "http://h:5000" -> "h:5000".
std::string key_host(std::string_view key) {
  if (const auto scheme = key.find("://"); scheme != key.npos) {
    key.remove_prefix(scheme + 3);
  }
  return std::string(key.substr(0, key.find('/')));
}

bool key_matches(std::string_view key, std::string_view domain) {
  const std::string host = key_host(key);
  if (domain == "docker.io") {
    return host == "index.docker.io" || host == "docker.io" || host == "registry-1.docker.io";
  }
  return host == domain;
}

}  // namespace

std::string auth_key(std::string_view domain) {
  return domain == "docker.io" ? "https://index.docker.io/v1/" : std::string(domain);
}

fs::path login_file(const fs::path& authfile) {
  if (!authfile.empty()) {
    return authfile;
  }
  if (const auto dir = env("DOCKER_CONFIG"); !dir.empty()) {
    return fs::path(dir) / "config.json";
  }
  const auto home = env("HOME");
  return fs::path(home.empty() ? "/root" : home) / ".docker" / "config.json";
}

std::vector<fs::path> credential_files(const fs::path& authfile) {
  if (!authfile.empty()) {
    return {authfile};
  }
  std::vector<fs::path> files{login_file()};
  if (const auto file = env("REGISTRY_AUTH_FILE"); !file.empty()) {
    files.emplace_back(file);
  } else if (const auto run = env("XDG_RUNTIME_DIR"); !run.empty()) {
    files.push_back(fs::path(run) / "containers" / "auth.json");
  }
  return files;
}

std::optional<Credentials> find_credentials(std::string_view domain, const fs::path& authfile) {
  for (const auto& file : credential_files(authfile)) {
    const auto doc = try_load_json(file);
    if (!doc || !doc->is_object() || !doc->contains("auths") || !(*doc)["auths"].is_object()) {
      continue;
    }
    for (const auto& [key, entry] : (*doc)["auths"].items()) {
      if (!key_matches(key, domain) || !entry.is_object() || !entry.contains("auth") ||
          !entry["auth"].is_string()) {
        continue;
      }
      const std::string decoded = base64_decode(entry["auth"].get<std::string>());
      const auto colon = decoded.find(':');
      if (colon == std::string::npos) {
        throw_invalid("malformed credentials for {} in \"{}\"", key, file.string());
      }
      return Credentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
    }
  }
  return std::nullopt;
}

void store_credentials(const fs::path& file, std::string_view domain,
                       const Credentials& credentials) {
  json doc = try_load_json(file).value_or(json::object());
  if (!doc.is_object()) {
    throw_invalid("\"{}\" is not a JSON object", file.string());
  }
  if (!doc.contains("auths") || !doc["auths"].is_object()) {
    doc["auths"] = json::object();
  }
  for (auto it = doc["auths"].begin(); it != doc["auths"].end();) {
    it = key_matches(it.key(), domain) ? doc["auths"].erase(it) : std::next(it);
  }
  doc["auths"][auth_key(domain)] = {
      {"auth", base64_encode(credentials.username + ":" + credentials.password)}};
  if (file.has_parent_path()) {  // "--authfile auth.json" names a file of the current directory
    fs::create_directories(file.parent_path());
  }
  write_file_atomic(file, doc.dump(1, '\t') + "\n", Durability::durable, 0600);
}

bool erase_credentials(const fs::path& file, std::string_view domain) {
  auto doc = try_load_json(file);
  if (!doc || !doc->is_object() || !doc->contains("auths") || !(*doc)["auths"].is_object()) {
    return false;
  }
  bool erased = false;
  auto& auths = (*doc)["auths"];
  for (auto it = auths.begin(); it != auths.end();) {
    if (key_matches(it.key(), domain)) {
      it = auths.erase(it);
      erased = true;
    } else {
      ++it;
    }
  }
  if (erased) {
    write_file_atomic(file, doc->dump(1, '\t') + "\n", Durability::durable, 0600);
  }
  return erased;
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text) {
  std::string out(3 * ((text.size() + 3) / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || text.size() % 4 != 0) {
    throw_invalid("malformed base64 in credentials");
  }
  // EVP_DecodeBlock counts the padding as decoded zero bytes.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '=' && size > 0; --i) {
    --size;
  }
  out.resize(size);
  return out;
}

std::optional<Challenge> parse_challenge(std::string_view header) {
  std::size_t i = header.find(' ');
  Challenge c;
  for (char ch : header.substr(0, i)) {
    c.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (c.scheme.empty()) {
    return std::nullopt;
  }
  while (i != header.npos && i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) {
      ++i;
    }
    const auto eq = header.find('=', i);
    if (eq == header.npos) {
      break;
    }
    std::string name;
    for (char ch : header.substr(i, eq - i)) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    std::string value;
    i = eq + 1;
    if (i < header.size() && header[i] == '"') {
      for (++i; i < header.size() && header[i] != '"'; ++i) {
        if (header[i] == '\\' && i + 1 < header.size()) {
          ++i;
        }
        value += header[i];
      }
      ++i;
    } else {
      const auto end = header.find(',', i);
      value = std::string(header.substr(i, end == header.npos ? header.npos : end - i));
      i = end;
    }
    c.params[name] = value;
  }
  return c;
}

}  // namespace gctool::registry
