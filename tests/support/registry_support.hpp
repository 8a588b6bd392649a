// A Debian `docker-registry` (the distribution registry) for tests: plain HTTP on a free
// 127.0.0.1 port, optionally with htpasswd Basic auth or TLS, its storage in a temporary
// directory, or behind a TokenServer (token_server.hpp); stopped (SIGTERM, then SIGKILL) and
// removed by the destructor. Images are put into it with skopeo from archives and layouts the tests
// write.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "image_support.hpp"
#include "test_support.hpp"

namespace gctool::test {

// A port nothing listens on now (bound to 0, read back, closed).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline bool port_answers(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class TestRegistry {
 public:
  struct Options {
    std::string user;  // with password: htpasswd Basic auth
    std::string password;
    bool tls = false;  // a certificate for 127.0.0.1 from a CA made here (ca_file())
  };
  // Token authentication: the realm of a TokenServer and the certificate its tokens carry.
  struct TokenAuth {
    std::string realm;
    std::filesystem::path certificate;
  };

  TestRegistry() : TestRegistry(Options{}) {}
  explicit TestRegistry(const Options& options) : TestRegistry(options, TokenAuth{}) {}
  explicit TestRegistry(const TokenAuth& token) : TestRegistry(Options{}, token) {}
  TestRegistry(const Options& options, const TokenAuth& token) : port_(free_loopback_port()) {
    const auto dir = tmp_.path();
    std::string auth;
    if (!options.user.empty()) {
      const auto r = run_program({"htpasswd", "-Bbn", options.user, options.password});
      if (r.exit_code != 0) {
        throw std::runtime_error("htpasswd failed: " + r.err);
      }
      write_bytes(dir / "htpasswd", r.out);
      auth = fmt::format("auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                         (dir / "htpasswd").string());
    }
    if (!token.realm.empty()) {
      auth = fmt::format(
          "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n"
          "    rootcertbundle: {}\n",
          token.realm, "gctool-test-registry", "gctool-test-token-server",
          token.certificate.string());
    }
    std::string tls;
    if (options.tls) {
      make_certificates();
      tls = fmt::format("  tls:\n    certificate: {}\n    key: {}\n", (dir / "server.crt").string(),
                        (dir / "server.key").string());
    }
    // The port is free when picked but another test may take it before the registry binds it,
    // and a loaded machine may take seconds to start it: a registry that exits is started
    // again on a new port, a live one is given 30 s, and a failure names what it printed.
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (attempt > 0) {
        port_ = free_loopback_port();
      }
      write_bytes(
          dir / "config.yml",
          fmt::format("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                      "storage:\n  filesystem:\n    rootdirectory: {}\n"
                      "  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n{}{}",
                      (dir / "data").string(), port_, tls, auth));
      if (start(dir)) {
        return;
      }
      last_error = read_log(dir / "registry.log");
    }
    throw std::runtime_error("docker-registry did not start: " + last_error);
  }
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;
  ~TestRegistry() { stop(); }

  int port() const { return port_; }
  std::string host() const { return fmt::format("127.0.0.1:{}", port_); }
  std::filesystem::path dir() const { return tmp_.path(); }
  std::filesystem::path ca_file() const { return tmp_.path() / "ca.crt"; }

  // Stops the registry (the destructor does it too); a stopped registry refuses connections.
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  // skopeo copy SOURCE docker://HOST/DEST, with the registry's credentials if any.
  RunResult put(const std::string& source, const std::string& dest,
                const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv{"skopeo", "copy", "--quiet", "--dest-tls-verify=false"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(source);
    argv.push_back("docker://" + host() + "/" + dest);
    return run_program(argv);
  }

 private:
  // Runs docker-registry; true once it answers, false (and reaped) if it exits or is silent.
  bool start(const std::filesystem::path& dir) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      const int log = ::open((dir / "registry.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(null, 1);
      ::dup2(log >= 0 ? log : null, 2);
      ::execlp("docker-registry", "docker-registry", "serve", (dir / "config.yml").c_str(),
               nullptr);
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (port_answers(port_)) {
        return true;
      }
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    stop();
    return false;
  }

  // The last line docker-registry wrote, or how it ended when it wrote nothing.
  static std::string read_log(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::string line;
    std::string last = "no output (exited, or not listening after 30 s)";
    while (std::getline(in, line)) {
      if (!line.empty()) {
        last = line;
      }
    }
    return last;
  }

  void make_certificates() const {
    const auto dir = tmp_.path().string();
    const auto r = run_program(
        {"sh", "-c",
         fmt::format("cd {} && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=testca "
                     "-keyout ca.key -out ca.crt && openssl req -newkey rsa:2048 -nodes "
                     "-subj /CN=127.0.0.1 -keyout server.key -out server.csr && printf "
                     "'subjectAltName=IP:127.0.0.1\\n' > ext && openssl x509 -req -in server.csr "
                     "-CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out "
                     "server.crt",
                     dir)});
    if (r.exit_code != 0) {
      throw std::runtime_error("openssl failed: " + r.err);
    }
  }

  TempDir tmp_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace gctool::test
