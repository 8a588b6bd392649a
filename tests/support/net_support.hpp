// Helpers for net tests: network namespaces the test owns, and TCP checks across them.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gctool/core/fd.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/netns.hpp"

namespace gctool::test {

// A fresh network namespace, alive while this object holds its fd; the calling thread stays in
// its own namespace.
class TestNetns {
 public:
  TestNetns() {
    const auto original = net::open_current_netns();
    if (::unshare(CLONE_NEWNET) != 0) {
      throw std::runtime_error("unshare(CLONE_NEWNET) failed");
    }
    fd_ = net::open_current_netns();
    if (::setns(original.get(), CLONE_NEWNET) != 0) {
      std::abort();
    }
  }
  BorrowedFd fd() const { return fd_.borrow(); }

 private:
  UniqueFd fd_;
};

// The test's stand-in for the host: a fresh namespace with lo up, entered by the calling thread
// for the object's lifetime (processes forked meanwhile, such as the gctool CLI, run in it).
class HostNetns {
 public:
  HostNetns() : guard_(ns_.fd()) {
    net::Netlink nl;
    net::set_link_up(nl, "lo");
  }
  BorrowedFd fd() const { return ns_.fd(); }

 private:
  TestNetns ns_;
  net::NetNsGuard guard_;
};

// Links of the calling thread's namespace whose name starts with a gctool prefix.
inline std::vector<std::string> gctool_links() {
  net::Netlink nl;
  std::vector<std::string> names;
  for (const auto& link : net::list_links(nl)) {
    if (link.name.rfind("gct", 0) == 0 || link.name.rfind("gv", 0) == 0 ||
        link.name.rfind("gp", 0) == 0) {
      names.push_back(link.name);
    }
  }
  return names;
}

inline sockaddr_in inet_address(const std::string& ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// A listening TCP socket on ip:port (port 0: any) in the calling thread's namespace.
inline UniqueFd tcp_listen(const std::string& ip, std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = inet_address(ip, port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd.get(), 16) != 0) {
    throw std::runtime_error("listen on " + ip + " failed");
  }
  return fd;
}

inline std::uint16_t local_port(BorrowedFd fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Connects (2 s timeout) from the calling thread's namespace to an IPv4 or IPv6 address; an
// invalid fd when it fails.
inline UniqueFd tcp_connect(const std::string& ip, std::uint16_t port) {
  const bool v6 = ip.find(':') != std::string::npos;
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_port = htons(port);
  ::inet_pton(AF_INET6, ip.c_str(), &a6.sin6_addr);
  auto a4 = inet_address(ip, port);
  const int rc = v6 ? ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a6), sizeof a6)
                    : ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a4), sizeof a4);
  if (rc != 0) {
    return UniqueFd();
  }
  return fd;
}

}  // namespace gctool::test
