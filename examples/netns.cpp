// Network namespaces: a child process gets a namespace of its own, and this process talks to it
// through a netlink socket opened inside it (Netlink::in_netns): it lists the links there, brings
// the loopback up, and lists them again. The host's namespace is never changed. Needs root:
//   example_netns
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "gctool/core/fd.hpp"
#include "gctool/core/pipe.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/netlink.hpp"
#include "gctool/net/netns.hpp"

namespace net = gctool::net;

namespace {

void print_links(net::Netlink& nl) {
  for (const net::LinkInfo& link : net::list_links(nl)) {
    fmt::print("  {} {} ({})\n", link.index, link.name, link.up ? "up" : "down");
  }
}

}  // namespace

int main() {
  try {
    // The child unshares its network namespace, says so, and waits until the pipe closes.
    gctool::Pipe ready = gctool::make_pipe();
    gctool::Pipe done = gctool::make_pipe();
    const pid_t child = ::fork();
    if (child < 0) {
      gctool::throw_errno("fork");
    }
    if (child == 0) {
      ready.read.reset();
      done.write.reset();
      if (::unshare(CLONE_NEWNET) != 0 || ::write(ready.write.get(), "x", 1) != 1) {
        ::_exit(1);
      }
      char byte = 0;
      [[maybe_unused]] const ssize_t n = ::read(done.read.get(), &byte, 1);
      ::_exit(0);
    }
    const auto reap = gctool::ScopeExit([&done, child] {
      done.write.reset();
      int status = 0;
      ::waitpid(child, &status, 0);
    });
    ready.write.reset();
    char byte = 0;
    if (::read(ready.read.get(), &byte, 1) != 1) {
      gctool::throw_invalid("the child could not make a network namespace");
    }

    gctool::UniqueFd netns = net::open_netns(child);
    net::Netlink nl = net::Netlink::in_netns(netns);
    fmt::print("links in the new namespace of pid {}:\n", child);
    print_links(nl);
    net::set_link_up(nl, "lo");
    fmt::print("after bringing lo up:\n");
    print_links(nl);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_netns: {}\n", e.what());
    return 1;
  }
}
