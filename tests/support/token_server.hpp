// A registry token server for tests (Docker's token authentication): a forked process serving
// HTTP on a free 127.0.0.1 port. GET /token?service=...&scope=repository:NAME:ACTIONS with Basic
// credentials answers a JWT (RS256, its certificate in the x5c header) granting the actions asked;
// wrong credentials get 401; no credentials get a token that grants nothing. The key and a
// self-signed certificate are made with openssl; a docker-registry configured with
// TestRegistry::Options::token trusts that certificate. Each request is appended to requests.log
// as "<user> <scope>"; writing "foreign" to mode() makes later tokens signed by another key,
// which the registry refuses.
#pragma once

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace gctool::test {

class TokenServer {
 public:
  static constexpr const char* kService = "gctool-test-registry";
  static constexpr const char* kIssuer = "gctool-test-token-server";

  TokenServer(std::string user, std::string password)
      : user_(std::move(user)), password_(std::move(password)) {
    const auto dir = tmp_.path().string();
    const auto r = run_program(
        {"sh", "-c",
         fmt::format("cd {} && for k in token foreign; do openssl req -x509 -newkey rsa:2048 "
                     "-nodes -days 2 -subj /CN=$k -keyout $k.key -out $k.crt || exit 1; done",
                     dir)});
    if (r.exit_code != 0) {
      throw std::runtime_error("openssl failed: " + r.err);
    }
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("token server: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    pid_ = ::fork();
    if (pid_ == 0) {
      serve();
      ::_exit(0);
    }
    ::close(listen_fd_);
  }
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;
  ~TokenServer() { stop(); }

  std::string realm() const { return fmt::format("http://127.0.0.1:{}/token", port_); }
  std::filesystem::path certificate() const { return tmp_.path() / "token.crt"; }
  std::filesystem::path mode() const { return tmp_.path() / "mode"; }
  std::vector<std::string> requests() const {
    std::vector<std::string> lines;
    std::ifstream in(tmp_.path() / "requests.log");
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
    }
    return lines;
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  static std::string base64(const std::string& data, bool url) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    if (url) {
      while (!out.empty() && out.back() == '=') {
        out.pop_back();
      }
      for (auto& c : out) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
      }
    }
    return out;
  }

  static std::string percent_decode(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += s[i] == '+' ? ' ' : s[i];
      }
    }
    return out;
  }

  // A JWT for subject granting the scopes ("repository:NAME:ACTIONS"), signed by key_name's key.
  std::string token(const std::string& subject, const std::vector<std::string>& scopes,
                    const std::string& key_name) const {
    const auto dir = tmp_.path();
    std::FILE* cert_file = std::fopen((dir / "token.crt").c_str(), "r");
    X509* cert = PEM_read_X509(cert_file, nullptr, nullptr, nullptr);
    std::fclose(cert_file);
    unsigned char* der = nullptr;
    const int der_len = i2d_X509(cert, &der);
    const std::string cert_der(reinterpret_cast<char*>(der), static_cast<std::size_t>(der_len));
    OPENSSL_free(der);
    X509_free(cert);

    nlohmann::json access = nlohmann::json::array();
    for (const auto& scope : scopes) {
      const auto first = scope.find(':');
      const auto last = scope.rfind(':');
      if (first == std::string::npos || first == last) {
        continue;
      }
      nlohmann::json actions = nlohmann::json::array();
      for (std::size_t pos = last + 1; pos <= scope.size();) {
        auto comma = scope.find(',', pos);
        comma = comma == std::string::npos ? scope.size() : comma;
        actions.push_back(scope.substr(pos, comma - pos));
        pos = comma + 1;
      }
      access.push_back({{"type", scope.substr(0, first)},
                        {"name", scope.substr(first + 1, last - first - 1)},
                        {"actions", actions}});
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const nlohmann::json header = {
        {"alg", "RS256"}, {"typ", "JWT"}, {"x5c", {base64(cert_der, false)}}};
    const nlohmann::json claims = {{"iss", kIssuer},
                                   {"sub", subject},
                                   {"aud", kService},
                                   {"exp", now + 300},
                                   {"nbf", now - 60},
                                   {"iat", now - 60},
                                   {"jti", fmt::format("{}-{}", now, ::getpid())},
                                   {"access", access}};
    const std::string signing_input =
        base64(header.dump(), true) + "." + base64(claims.dump(), true);

    std::FILE* key_file = std::fopen((dir / (key_name + ".key")).c_str(), "r");
    EVP_PKEY* key = PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr);
    std::fclose(key_file);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t sig_len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, nullptr, &sig_len,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    std::string sig(sig_len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    sig.resize(sig_len);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return signing_input + "." + base64(sig, true);
  }

  std::string answer(const std::string& request) const {
    const auto line_end = request.find("\r\n");
    const std::string first = request.substr(0, line_end);
    const auto sp1 = first.find(' ');
    const std::string target = first.substr(sp1 + 1, first.rfind(' ') - sp1 - 1);
    std::map<std::string, std::string> headers;
    for (std::size_t pos = line_end + 2; pos < request.size();) {
      const auto end = request.find("\r\n", pos);
      const std::string h = request.substr(pos, end - pos);
      if (h.empty()) {
        break;
      }
      std::string name = h.substr(0, h.find(':'));
      for (auto& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      const auto value = h.find_first_not_of(' ', h.find(':') + 1);
      headers[name] = value == std::string::npos ? "" : h.substr(value);
      pos = end + 2;
    }
    std::vector<std::string> scopes;
    if (const auto q = target.find('?'); q != std::string::npos) {
      for (std::size_t pos = q + 1; pos <= target.size();) {
        auto amp = target.find('&', pos);
        amp = amp == std::string::npos ? target.size() : amp;
        const std::string param = target.substr(pos, amp - pos);
        if (param.starts_with("scope=")) {
          scopes.push_back(percent_decode(param.substr(6)));
        }
        pos = amp + 1;
      }
    }
    std::string subject;
    if (const auto it = headers.find("authorization"); it != headers.end()) {
      if (it->second != "Basic " + base64(user_ + ":" + password_, false)) {
        log("! " + fmt::format("{}", fmt::join(scopes, " ")));
        const std::string body = R"({"details":"incorrect username or password"})";
        return fmt::format(
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
            "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.size(), body);
      }
      subject = user_;
    } else {
      scopes.clear();  // anonymous: a token that grants nothing
    }
    log((subject.empty() ? "-" : subject) + " " + fmt::format("{}", fmt::join(scopes, " ")));
    std::string key = "token";
    if (std::ifstream in(mode()); in) {
      std::getline(in, key);
    }
    const std::string jwt = token(subject, scopes, key == "foreign" ? "foreign" : "token");
    const std::string body =
        nlohmann::json{{"token", jwt}, {"access_token", jwt}, {"expires_in", 300}}.dump();
    return fmt::format(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        body.size(), body);
  }

  void log(const std::string& line) const {
    std::ofstream out(tmp_.path() / "requests.log", std::ios::app);
    out << line << "\n";
  }

  // The child's loop: one request per connection.
  void serve() const {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
          break;
        }
        request.append(buf, static_cast<std::size_t>(n));
      }
      if (request.find("\r\n\r\n") != std::string::npos) {
        const std::string response = answer(request);
        for (std::size_t done = 0; done < response.size();) {
          const ssize_t n = ::write(fd, response.data() + done, response.size() - done);
          if (n <= 0) {
            break;
          }
          done += static_cast<std::size_t>(n);
        }
      }
      ::close(fd);
    }
  }

  TempDir tmp_;
  std::string user_;
  std::string password_;
  int listen_fd_ = -1;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace gctool::test
