#include "gctool/net/resolver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "gctool/core/atomic_file.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/sys/daemon.hpp"
#include "gctool/sys/pidfd.hpp"
#include "network_internal.hpp"

namespace gctool::net {
namespace {

std::optional<std::filesystem::path>& helper_path() {
  static std::optional<std::filesystem::path> path;
  return path;
}

std::filesystem::path pid_file(const std::filesystem::path& root, const std::string& network) {
  return networks_dir(root) / "resolvers" / (network + ".pid");
}

struct Recorded {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
};

std::optional<Recorded> read_recorded(const std::filesystem::path& file) {
  const auto text = try_read_file(file);
  if (!text) {
    return std::nullopt;
  }
  Recorded r;
  unsigned long long start = 0;
  if (std::sscanf(text->c_str(), "%d %llu", &r.pid, &start) != 2 || r.pid <= 0) {
    return std::nullopt;
  }
  r.start_time = start;
  return r;
}

// The daemon's side: exec the resolver with the readiness pipe as an inherited descriptor.
[[noreturn]] void exec_resolver(const std::filesystem::path& helper,
                                const std::filesystem::path& root, const Network& network,
                                int ready) {
  const int fd = ::fcntl(ready, F_DUPFD, 3);  // a copy without close-on-exec
  if (fd < 0) {
    ::_exit(125);
  }
  const std::string fd_text = std::to_string(fd);
  const std::string ip = to_string(network.gateway);
  const std::string resolv = host_resolv_conf_path().string();
  const char* argv[] = {helper.c_str(), root.c_str(),   network.name.c_str(),
                        ip.c_str(),     resolv.c_str(), fd_text.c_str(),
                        nullptr};
  ::execv(argv[0], const_cast<char* const*>(argv));
  const std::string line =
      fmt::format("error exec {}: {}\n", helper.string(), std::strerror(errno));
  [[maybe_unused]] const auto n = ::write(fd, line.data(), line.size());
  ::_exit(125);
}

}  // namespace

void use_resolver_helper(std::filesystem::path helper) {
  helper_path() = std::move(helper);
}

const std::optional<std::filesystem::path>& resolver_helper() noexcept {
  return helper_path();
}

bool network_has_resolver(const Network& network) {
  return network.name != kDefaultNetwork && helper_path().has_value();
}

std::filesystem::path host_resolv_conf_path() {
  if (const char* env = std::getenv("GCTOOL_HOST_RESOLV_CONF"); env != nullptr && *env) {
    return env;
  }
  return "/etc/resolv.conf";
}

std::optional<pid_t> resolver_pid(const std::filesystem::path& root,
                                  const std::string& network_name) {
  const auto r = read_recorded(pid_file(root, network_name));
  if (r && process_matches(r->pid, r->start_time)) {
    return r->pid;
  }
  return std::nullopt;
}

void ensure_resolver(const std::filesystem::path& root, const Network& network) {
  if (!network_has_resolver(network) || resolver_pid(root, network.name)) {
    return;
  }
  const auto file = pid_file(root, network.name);
  std::filesystem::create_directories(file.parent_path());
  int fds[2];
  check(::pipe2(fds, O_CLOEXEC), "pipe");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  if (sys::fork_daemon()) {
    exec_resolver(*helper_path(), root, network, write_end.get());
  }
  write_end = UniqueFd();
  const std::string reply = read_all(read_end.borrow(), "the resolver's readiness pipe");
  if (reply.starts_with("error ")) {
    throw Error(EIO, fmt::format("start the resolver of network {}: {}", network.name,
                                 reply.substr(6, reply.find('\n') - 6)));
  }
  const pid_t pid = static_cast<pid_t>(std::atoi(reply.c_str()));
  const auto start = pid > 0 ? process_start_time(pid) : std::nullopt;
  if (!start) {
    throw Error(EIO,
                fmt::format("start the resolver of network {}: it exited at once", network.name));
  }
  write_file_atomic(file, fmt::format("{} {}\n", pid, *start));
}

void forget_dead_resolvers(const std::filesystem::path& root) noexcept {
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(networks_dir(root) / "resolvers", ec)) {
    if (entry.path().extension() == ".pid") {
      const auto r = read_recorded(entry.path());
      if (!r || !process_matches(r->pid, r->start_time)) {
        std::filesystem::remove(entry.path(), ec);
      }
    }
  }
}

bool stop_resolver(const std::filesystem::path& root, const std::string& network_name) noexcept {
  try {
    const auto file = pid_file(root, network_name);
    const auto r = read_recorded(file);
    bool stopped = false;
    if (r) {
      // The pidfd first, then the start time: a pid reused in between fails the check.
      if (auto pidfd = sys::try_pidfd_open(r->pid);
          pidfd && process_matches(r->pid, r->start_time)) {
        if (sys::pidfd_signal(pidfd->borrow(), SIGTERM)) {
          // Not our child: its pidfd becomes readable when it exits.
          pollfd p{pidfd->get(), POLLIN, 0};
          if (::poll(&p, 1, 2000) == 0) {
            sys::pidfd_signal(pidfd->borrow(), SIGKILL);
            ::poll(&p, 1, 2000);
          }
          stopped = true;
        }
      }
    }
    std::filesystem::remove(file);
    return stopped;
  } catch (...) {
    return false;
  }
}

}  // namespace gctool::net
