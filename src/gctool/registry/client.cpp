#include "gctool/registry/client.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/json_file.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gctool::registry {
namespace {

// "host:port" -> "host"; "[::1]:5000" -> "::1".
std::string host_of(std::string_view domain) {
  if (domain.starts_with('[')) {
    return std::string(domain.substr(1, domain.find(']') - 1));
  }
  return std::string(domain.substr(0, domain.find(':')));
}

std::string escape(std::string_view s) {
  char* out = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  std::string result = out != nullptr ? out : "";
  curl_free(out);
  return result;
}

}  // namespace

fs::path default_config_file() {
  const char* value = std::getenv("GCTOOL_CONFIG");
  return value != nullptr && *value != '\0' ? fs::path(value) : fs::path("/etc/gctool/config.json");
}

bool is_loopback_host(std::string_view domain) {
  const std::string host = host_of(domain);
  if (host == "localhost" || host == "::1") {
    return true;
  }
  in_addr addr{};
  return ::inet_pton(AF_INET, host.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
}

Client::Client(RemoteReference ref, ClientOptions options, std::string actions)
    : ref_(std::move(ref)), options_(std::move(options)), actions_(std::move(actions)) {}

std::string Client::describe(const HttpResponse& response) {
  if (response.status == 0) {
    return response.error;
  }
  std::string message;
  try {
    const json body = json::parse(response.body);
    for (const auto& e : body.at("errors")) {
      const std::string text = e.value("message", e.value("code", ""));
      message += (message.empty() ? "" : "; ") + text;
    }
  } catch (const json::exception&) {
  }
  if (message.empty()) {
    message = response.status == 401   ? "unauthorized"
              : response.status == 403 ? "denied"
              : response.status == 404 ? "not found"
                                       : "request failed";
  }
  return fmt::format("{} (HTTP {})", message, response.status);
}

HttpRequest Client::bare(std::string method, std::string url) const {
  HttpRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.verify_tls = verify_;
  r.ca_file = ca_file_;
  return r;
}

HttpRequest Client::request(std::string method, std::string_view path_or_url) {
  connect();
  HttpRequest r = bare(std::move(method), path_or_url.find("://") != path_or_url.npos
                                              ? std::string(path_or_url)
                                              : base_url() + std::string(path_or_url));
  if (!authorization_.empty()) {
    r.headers.push_back(authorization_);
  }
  return r;
}

void Client::connect() {
  if (connected_) {
    return;
  }
  const fs::path config_path =
      options_.config_file.empty() ? default_config_file() : options_.config_file;
  bool insecure = is_loopback_host(ref_.domain);
  if (const auto config = try_load_json(config_path); config && config->is_object()) {
    if (const auto it = config->find("insecure-registries");
        it != config->end() && it->is_array()) {
      for (const auto& entry : *it) {
        if (entry.is_string() && (entry.get<std::string>() == ref_.domain ||
                                  entry.get<std::string>() == host_of(ref_.domain))) {
          insecure = true;
        }
      }
    }
  }
  const fs::path ca = config_path.parent_path() / "certs.d" / ref_.domain / "ca.crt";
  if (fs::exists(ca)) {
    ca_file_ = ca.string();
    insecure = false;  // a registry with a CA of its own is verified, never plain HTTP
  }
  if (options_.tls_verify == false) {
    insecure = true;
  }
  credentials_ = options_.login ? options_.login : find_credentials(ref_.domain, options_.authfile);
  // HTTPS first; a registry that may be insecure is tried without verification, then over HTTP.
  verify_ = !insecure;
  HttpResponse ping;
  for (const std::string scheme : {"https", "http"}) {
    HttpRequest req = bare("GET", scheme + "://" + ref_.api_host() + "/v2/");
    req.attempts = scheme == "https" && insecure ? 1 : 2;
    ping = http_.perform(req);
    if (ping.status != 0) {
      base_ = scheme + "://" + ref_.api_host();
      break;
    }
    if (!insecure) {
      break;
    }
  }
  if (base_.empty()) {
    throw_invalid("cannot reach registry {}: {}", ref_.domain, Client::describe(ping));
  }
  if (ping.status == 401) {
    authenticate(ping);
  } else if (ping.status >= 400 && ping.status != 404) {
    throw_invalid("registry {}: {}", ref_.domain, Client::describe(ping));
  }
  connected_ = true;
}

void Client::authenticate(const HttpResponse& response) {
  const auto challenge = parse_challenge(response.header("www-authenticate"));
  if (!challenge) {
    throw_invalid("registry {} asks for authentication without a WWW-Authenticate challenge",
                  ref_.domain);
  }
  if (challenge->scheme == "basic") {
    if (!credentials_) {
      throw_invalid("registry {}: authentication required (gctool login {})", ref_.domain,
                    ref_.domain);
    }
    authorization_ = "Authorization: Basic " +
                     base64_encode(credentials_->username + ":" + credentials_->password);
    return;
  }
  if (challenge->scheme != "bearer" || !challenge->params.contains("realm")) {
    throw_invalid("registry {}: unsupported authentication scheme \"{}\"", ref_.domain,
                  challenge->scheme);
  }
  std::string url = challenge->params.at("realm");
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (const auto it = challenge->params.find("service"); it != challenge->params.end()) {
    url += sep + std::string("service=") + escape(it->second);
    sep = '&';
  }
  if (!ref_.repository.empty()) {
    url += sep + std::string("scope=") + escape("repository:" + ref_.repository + ":" + actions_);
  }
  HttpRequest req = bare("GET", url);
  if (credentials_) {
    req.headers.push_back("Authorization: Basic " +
                          base64_encode(credentials_->username + ":" + credentials_->password));
  }
  const HttpResponse token = http_.perform(req);
  if (token.status == 401 || token.status == 403) {
    throw_invalid("registry {}: {}", ref_.domain,
                  credentials_ ? "unauthorized: incorrect username or password"
                               : "authentication required (gctool login " + ref_.domain + ")");
  }
  if (token.status != 200) {
    throw_invalid("registry {}: token server: {}", ref_.domain, Client::describe(token));
  }
  try {
    const json body = json::parse(token.body);
    const std::string value = body.contains("token") ? body.at("token").get<std::string>()
                                                     : body.at("access_token").get<std::string>();
    authorization_ = "Authorization: Bearer " + value;
    token_realm_ = challenge->params.at("realm");
  } catch (const json::exception& e) {
    throw_invalid("registry {}: malformed token server answer: {}", ref_.domain, e.what());
  }
}

void Client::verify_login() {
  if (!options_.login) {
    throw_invalid("login to {}: no credentials given", ref_.domain);
  }
  connect();
  HttpRequest req = request("GET", base_ + "/v2/");
  const HttpResponse res = http_.perform(req);
  if (res.status == 401 && !token_realm_.empty()) {
    throw_invalid("login to {}: the token from {} was refused: {}", ref_.domain, token_realm_,
                  Client::describe(res));
  }
  if (res.status == 401 || res.status == 403) {
    throw_invalid("login to {}: unauthorized: incorrect username or password", ref_.domain);
  }
  if (res.status != 200) {
    throw_invalid("login to {}: {}", ref_.domain, Client::describe(res));
  }
}

HttpResponse Client::perform(HttpRequest& request) {
  connect();
  HttpResponse response = http_.perform(request);
  if (response.status == 401) {
    authenticate(response);
    std::erase_if(request.headers,
                  [](const std::string& h) { return h.starts_with("Authorization:"); });
    request.headers.push_back(authorization_);
    response = http_.perform(request);
    if (response.status == 401 && !token_realm_.empty() && credentials_) {
      // The token server took the credentials but the registry does not accept its token.
      throw_invalid("registry {}: the token from {} was refused: {}", ref_.domain, token_realm_,
                    Client::describe(response));
    }
    if (response.status == 401) {
      throw_invalid("registry {}: {}", ref_.domain,
                    credentials_ ? "unauthorized: incorrect username or password"
                                 : "authentication required (gctool login " + ref_.domain + ")");
    }
  }
  return response;
}

}  // namespace gctool::registry
