// A session with one repository of a registry (OCI distribution API): finds how to reach it
// (HTTPS, or plain HTTP for loopback and insecure registries), authenticates (anonymous, Basic,
// or a Bearer token from the realm its WWW-Authenticate names) and makes requests below
// /v2/<repository>/.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/registry/auth.hpp"
#include "gctool/registry/http.hpp"
#include "gctool/registry/reference.hpp"

namespace gctool::registry {

struct ClientOptions {
  std::optional<bool> tls_verify;     // --tls-verify; unset: by the rules above
  std::filesystem::path authfile;     // --authfile
  std::optional<Credentials> login;   // given on the command line (login -u/-p)
  std::filesystem::path config_file;  // gctool's config; empty: default_config_file()
};

// gctool's configuration file: $GCTOOL_CONFIG, else /etc/gctool/config.json. It may hold
// {"insecure-registries": ["host:port", ...]}; a registry's CA goes in
// <its directory>/certs.d/<host:port>/ca.crt, as Docker's /etc/docker/certs.d.
std::filesystem::path default_config_file();

// True for localhost and 127.0.0.0/8 (and [::1]), with or without a port.
bool is_loopback_host(std::string_view domain);

class Client {
 public:
  // actions: the scope asked of a token server, "pull" or "pull,push".
  Client(RemoteReference ref, ClientOptions options, std::string actions = "pull");

  // Reaches the registry and authenticates; throws "<domain>: <cause>" when it cannot. Done
  // lazily by the first request.
  void connect();

  // Checks that the registry accepts the session's credentials (login): throws
  // "unauthorized: incorrect username or password" otherwise.
  void verify_login();

  // A request to url (absolute) or to a path below /v2/<repository>/ ("manifests/latest"), with
  // the session's authentication and TLS settings (connects first).
  HttpRequest request(std::string method, std::string_view path_or_url);

  // Runs a request; on 401 authenticates once more (a token expired) and retries.
  HttpResponse perform(HttpRequest& request);

  Http& http() { return http_; }
  const RemoteReference& ref() const { return ref_; }
  std::string base_url() const { return base_ + "/v2/" + ref_.repository + "/"; }

  // "<what>: <registry's error message> (HTTP <status>)" from an error response.
  static std::string describe(const HttpResponse& response);

 private:
  void authenticate(const HttpResponse& challenge_response);
  HttpRequest bare(std::string method, std::string url) const;

  RemoteReference ref_;
  ClientOptions options_;
  std::string actions_;
  Http http_;
  std::string base_;           // "https://host:port" once connected
  std::string authorization_;  // "Authorization: ..." header, or empty
  std::string token_realm_;    // the realm that gave the Bearer token in use
  bool verify_ = true;
  std::string ca_file_;
  bool connected_ = false;
  std::optional<Credentials> credentials_;
};

}  // namespace gctool::registry
