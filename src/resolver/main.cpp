// gctool-resolver: the DNS server of one user-defined network, as Docker's embedded DNS and
// Podman's aardvark-dns. It runs in the host's network namespace, listens on the network's
// gateway address (UDP and TCP port 53), answers A and AAAA queries for the containers of the
// network (name, 12-digit id, aliases; see net/dns_records.hpp) and forwards every other query to
// the asking container's --dns servers or the host's resolvers (loopback ones included: they are
// reachable from here). gctool starts it with the first container on the network and stops it
// with the last (net/resolver.hpp); it also exits by itself once the network or its last
// endpoint is gone, so a crash of gctool leaves no resolver behind for long. Static and small,
// like gctool-supervisor: what stays in memory is this loop. Not meant to be run by hand.
//
//   gctool-resolver ROOT NETWORK LISTEN-IP RESOLV-CONF READY-FD
#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/io/poll.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sleep.hpp"
#include "gctool/io/socket.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/timeout.hpp"
#include "gctool/net/dns_message.hpp"
#include "gctool/net/dns_records.hpp"

namespace {

using namespace std::chrono_literals;
using gctool::BorrowedFd;
using gctool::UniqueFd;
namespace io = gctool::io;
namespace net = gctool::net;
namespace dns = gctool::net::dns;

constexpr std::uint32_t kTtl = 600;  // Docker's embedded DNS answers with this TTL
constexpr std::size_t kMaxForwards = 128;
constexpr std::size_t kMaxTcpConnections = 32;
constexpr std::size_t kMaxMessage = 4096;  // forwarded UDP answers larger than this are cut

sockaddr_in inet(net::Ipv4Address ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(ip.value);
  return a;
}

struct Resolver {
  io::Loop& loop;
  std::filesystem::path resolv_conf;
  net::DnsRecords records;
  UniqueFd udp;
  std::size_t forwards = 0;
  std::size_t tcp_connections = 0;
  std::uint64_t queries = 0;  // received, for the idle check

  // Where a client's unknown names go: its --dns servers, else the host's resolvers.
  std::vector<net::Ipv4Address> upstreams(net::Ipv4Address client) const {
    if (const auto* e = records.endpoint_of(client); e != nullptr && !e->dns.empty()) {
      return e->dns;
    }
    std::vector<net::Ipv4Address> servers;
    try {
      servers = net::resolv_conf_nameservers(gctool::try_read_file(resolv_conf).value_or(""));
    } catch (const std::exception&) {
    }
    return servers;
  }

  // The answer from this network's records, or empty when the name is not one of them.
  std::vector<std::uint8_t> answer_locally(std::span<const std::uint8_t> message,
                                           const dns::Query& q, std::size_t limit) {
    records.refresh();
    const auto addresses = records.lookup(q.name);
    if (addresses.empty()) {
      return {};
    }
    // A known name: A records, AAAA records when it has IPv6 addresses; any other type has no
    // data (NOERROR, no answer), as Docker.
    const bool in = q.klass == dns::kClassIN;
    if (in && q.type == dns::kTypeAAAA) {
      const auto addresses6 = records.lookup6(q.name);
      return dns::build_response(message, q, dns::Rcode::ok, std::span(addresses6), kTtl, limit);
    }
    return dns::build_response(
        message, q, dns::Rcode::ok,
        in && q.type == dns::kTypeA ? std::span(addresses) : std::span<const net::Ipv4Address>(),
        kTtl, limit);
  }

  // Reads exactly buffer.size() bytes; false at end of stream.
  io::Task<bool> read_exactly(BorrowedFd fd, std::span<std::uint8_t> buffer) {
    std::size_t got = 0;
    while (got < buffer.size()) {
      const auto n = co_await io::read(loop, fd, std::as_writable_bytes(buffer.subspan(got)));
      if (n == 0) {
        co_return false;
      }
      got += n;
    }
    co_return true;
  }

  // One length-prefixed exchange with server:53 over TCP (2 s in all); the answer carrying the
  // query's id, or empty.
  io::Task<std::vector<std::uint8_t>> exchange_tcp(std::span<const std::uint8_t> query,
                                                   net::Ipv4Address server) {
    std::vector<std::uint8_t> out(query.size() + 2);
    out[0] = static_cast<std::uint8_t>(query.size() >> 8);
    out[1] = static_cast<std::uint8_t>(query.size());
    std::copy(query.begin(), query.end(), out.begin() + 2);
    std::vector<std::uint8_t> answer;
    try {
      UniqueFd s(gctool::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
      const auto to = inet(server, 53);
      co_await io::with_timeout(
          loop, io::connect(loop, s.borrow(), reinterpret_cast<const sockaddr*>(&to), sizeof to),
          2s);
      co_await io::with_timeout(loop,
                                io::write_all(loop, s.borrow(), std::as_bytes(std::span(out))), 2s);
      std::array<std::uint8_t, 2> prefix{};
      if (co_await io::with_timeout(loop, read_exactly(s.borrow(), prefix), 2s)) {
        answer.resize(static_cast<std::size_t>(prefix[0] << 8 | prefix[1]));
        if (!co_await io::with_timeout(loop, read_exactly(s.borrow(), answer), 2s) ||
            answer.size() < 12 || dns::message_id(answer) != dns::message_id(query)) {
          answer.clear();
        }
      }
    } catch (const std::exception&) {
      answer.clear();  // refused, timed out, reset: no answer from this server
    }
    co_return answer;
  }

  // Asks each upstream in turn over UDP (2 s each) from a fresh socket (a random source port);
  // the first answer carrying the query's id, or empty. A truncated answer is asked again of the
  // same server over TCP (RFC 7766), and kept when that fails.
  io::Task<std::vector<std::uint8_t>> forward(std::vector<std::uint8_t> query,
                                              std::vector<net::Ipv4Address> servers) {
    const std::uint16_t id = dns::message_id(query);
    std::vector<std::uint8_t> buffer(kMaxMessage);
    for (const auto server : servers) {
      UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (!s.valid()) {
        co_return std::vector<std::uint8_t>{};
      }
      const auto to = inet(server, 53);
      if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 ||
          ::send(s.get(), query.data(), query.size(), 0) < 0) {
        continue;
      }
      const auto deadline = std::chrono::steady_clock::now() + 2s;
      bool answered = false;
      while (!answered && std::chrono::steady_clock::now() < deadline) {
        try {
          co_await io::with_timeout(loop, io::poll(loop, s.borrow(), POLLIN),
                                    deadline - std::chrono::steady_clock::now());
        } catch (const io::TimedOut&) {
          break;
        }
        const ssize_t n = ::recv(s.get(), buffer.data(), buffer.size(), 0);
        if (n >= 12 &&
            dns::message_id(std::span(buffer.data(), static_cast<std::size_t>(n))) == id) {
          buffer.resize(static_cast<std::size_t>(n));
          answered = true;
        } else if (n < 0 && errno != EAGAIN) {
          break;  // ECONNREFUSED: nothing listens there
        }
      }
      if (answered) {
        if (dns::is_truncated(buffer)) {
          auto full = co_await exchange_tcp(query, server);
          if (!full.empty()) {
            co_return full;
          }
        }
        co_return buffer;
      }
    }
    co_return std::vector<std::uint8_t>{};
  }

  std::vector<std::uint8_t> failure(std::span<const std::uint8_t> message, const dns::Query& q) {
    return dns::build_response(message, q, dns::Rcode::server_failure,
                               std::span<const net::Ipv4Address>(), 0, dns::kUdpLimit);
  }

  io::Task<void> forward_udp(std::vector<std::uint8_t> query, dns::Query q, sockaddr_in client) {
    ++forwards;
    struct Done {
      std::size_t& n;
      ~Done() { --n; }
    } done{forwards};
    const auto servers = upstreams(net::Ipv4Address{ntohl(client.sin_addr.s_addr)});
    auto response = co_await forward(query, servers);
    if (response.empty()) {
      response = failure(query, q);
    } else if (response.size() > dns::udp_limit(query, q)) {
      response = dns::truncated_response(query, q);  // the asker comes back over TCP
    }
    ::sendto(udp.get(), response.data(), response.size(), 0,
             reinterpret_cast<const sockaddr*>(&client), sizeof client);
  }

  io::Task<void> serve_udp() {
    std::array<std::uint8_t, 1500> buffer{};
    for (;;) {
      co_await io::poll(loop, udp.borrow(), POLLIN);
      for (;;) {
        sockaddr_in client{};
        socklen_t length = sizeof client;
        const ssize_t n = ::recvfrom(udp.get(), buffer.data(), buffer.size(), 0,
                                     reinterpret_cast<sockaddr*>(&client), &length);
        if (n < 0) {
          break;  // EAGAIN: drained
        }
        ++queries;
        const std::span message(buffer.data(), static_cast<std::size_t>(n));
        const auto q = dns::parse_query(message);
        if (!q) {
          continue;  // not a query we understand: no answer, as for any garbage
        }
        auto response = answer_locally(message, *q, dns::udp_limit(message, *q));
        if (response.empty()) {
          if (forwards >= kMaxForwards) {
            response = failure(message, *q);
          } else {
            loop.spawn(
                forward_udp(std::vector<std::uint8_t>(message.begin(), message.end()), *q, client));
            continue;
          }
        }
        ::sendto(udp.get(), response.data(), response.size(), 0,
                 reinterpret_cast<const sockaddr*>(&client), length);
      }
    }
  }

  // One TCP client: length-prefixed queries until it closes or is idle for 10 s.
  io::Task<void> serve_tcp_client(UniqueFd fd, net::Ipv4Address client) {
    ++tcp_connections;
    struct Done {
      std::size_t& n;
      ~Done() { --n; }
    } done{tcp_connections};
    try {
      for (;;) {
        std::array<std::uint8_t, 2> prefix{};
        if (!co_await io::with_timeout(loop, read_exactly(fd.borrow(), prefix), 10s)) {
          co_return;
        }
        std::vector<std::uint8_t> message(static_cast<std::size_t>(prefix[0] << 8 | prefix[1]));
        if (!co_await io::with_timeout(loop, read_exactly(fd.borrow(), message), 10s)) {
          co_return;
        }
        ++queries;
        const auto q = dns::parse_query(message);
        if (!q) {
          co_return;
        }
        auto response = answer_locally(message, *q, 65535);
        if (response.empty()) {
          response = co_await forward(message, upstreams(client));
          if (response.empty()) {
            response = failure(message, *q);
          }
        }
        std::vector<std::uint8_t> out(response.size() + 2);
        out[0] = static_cast<std::uint8_t>(response.size() >> 8);
        out[1] = static_cast<std::uint8_t>(response.size());
        std::copy(response.begin(), response.end(), out.begin() + 2);
        co_await io::with_timeout(
            loop, io::write_all(loop, fd.borrow(), std::as_bytes(std::span(out))), 10s);
      }
    } catch (const gctool::Error&) {
      // A client that went away or stalled: its connection closes.
    }
  }

  io::Task<void> serve_tcp(BorrowedFd listener) {
    for (;;) {
      auto fd = co_await io::accept(loop, listener);
      sockaddr_in peer{};
      socklen_t length = sizeof peer;
      ::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer), &length);
      if (tcp_connections < kMaxTcpConnections) {
        loop.spawn(serve_tcp_client(std::move(fd), net::Ipv4Address{ntohl(peer.sin_addr.s_addr)}));
      }
    }
  }
};

// Whether the network still exists and has an endpoint.
bool still_needed(const std::filesystem::path& root, const std::string& network,
                  net::DnsRecords& records) {
  if (!std::filesystem::exists(root / "networks" / (network + ".json"))) {
    return false;
  }
  records.refresh();
  return !records.endpoints().empty();
}

// Holds the lock from a true answer until the process exits, so that the sockets close before
// any attach can see this resolver as running.
bool unneeded_under_lock(const std::filesystem::path& root, const std::string& network,
                         net::DnsRecords& records) {
  static UniqueFd lock;
  const auto lock_file = root / "networks" / ".lock";
  lock = UniqueFd(::open(lock_file.c_str(), O_RDWR | O_CLOEXEC));
  if (!lock.valid()) {
    return true;  // the root or its networks are gone
  }
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0 || still_needed(root, network, records)) {
    lock = UniqueFd();
    return false;
  }
  return true;
}

UniqueFd bound_socket(int type, net::Ipv4Address ip) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  gctool::check(fd.get(), "socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const auto a = inet(ip, 53);
  gctool::check(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a), "bind {}:53",
                net::to_string(ip));
  if (type == SOCK_STREAM) {
    gctool::check(::listen(fd.get(), 64), "listen on {}:53", net::to_string(ip));
  }
  return fd;
}

// The mappings of this program's file whose pages can be dropped and read again from the page
// cache: not writable, and with no page of their own (a read-only mapping that was written
// before it became read-only, RELRO, holds such pages, which would be lost). Found once, from
// /proc/self/smaps, so that dropping them later runs no more code than a few madvise calls.
struct FileRange {
  unsigned long from = 0;
  unsigned long to = 0;
};
std::array<FileRange, 8> g_droppable{};
std::size_t g_droppable_count = 0;

void find_droppable_ranges() {
  const auto smaps = gctool::try_read_file("/proc/self/smaps");
  if (!smaps) {
    return;
  }
  FileRange current;
  bool candidate = false;
  std::size_t at = 0;
  while (at < smaps->size()) {
    auto end = smaps->find('\n', at);
    if (end == std::string::npos) {
      end = smaps->size();
    }
    const std::string line = smaps->substr(at, end - at);
    at = end + 1;
    unsigned long from = 0;
    unsigned long to = 0;
    char perms[5] = {};
    unsigned long inode = 0;
    unsigned long anonymous = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %4s %*s %*s %lu", &from, &to, perms, &inode) == 4) {
      current = {from, to};
      candidate = inode != 0 && perms[1] != 'w' && perms[3] == 'p';
    } else if (candidate && std::sscanf(line.c_str(), "Anonymous: %lu", &anonymous) == 1) {
      if (anonymous == 0 && g_droppable_count < g_droppable.size()) {
        g_droppable[g_droppable_count++] = current;
      }
      candidate = false;
    }
  }
}

// Drops this process's pages of the program file (code, read-only data). A static binary's
// start-up (libc, libstdc++'s locales, argument parsing) touches much of it once, and the kernel
// maps the file's pages around each fault (64 KiB): all of it would stay counted in this
// process's memory while it idles. Pages still needed fault back in from the page cache.
void release_file_pages() noexcept {
  for (std::size_t i = 0; i < g_droppable_count; ++i) {
    ::madvise(reinterpret_cast<void*>(g_droppable[i].from), g_droppable[i].to - g_droppable[i].from,
              MADV_DONTNEED);
  }
}

// Idles outside the loop: drops the program's pages, then blocks in one poll(2) on the listening
// sockets, so that the only code that runs between the two (and so comes back in) is this
// function's end and the poll wrapper. (Waiting on the loop instead brings back the loop's code
// and io_uring's.) False after the timeout; true when a query arrived, or when poll was
// interrupted: the loop's own operations (a TCP accept) complete through task work that
// interrupts it, and only the loop can handle them.
bool park(BorrowedFd udp, BorrowedFd tcp, int timeout_ms) noexcept {
  ::malloc_trim(0);  // the heap a burst of forwards left free
  std::array<pollfd, 2> fds{{{udp.get(), POLLIN, 0}, {tcp.get(), POLLIN, 0}}};
  release_file_pages();
  return ::poll(fds.data(), fds.size(), timeout_ms) != 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fputs("gctool-resolver: started by gctool, not by hand\n", stderr);
    return 2;
  }
  const std::filesystem::path root = argv[1];
  const std::string network = argv[2];
  UniqueFd ready(std::atoi(argv[5]));
  ::prctl(PR_SET_PDEATHSIG, 0);
  try {
    const auto ip = net::parse_ipv4(argv[3]);
    io::LoopOptions options;
    options.entries = 64;
    // One query's failure (a client gone, an fd limit) must not end the others.
    options.on_spawn_error = [](std::exception_ptr) {};
    io::Loop loop(options);
    Resolver resolver{loop, argv[4], net::DnsRecords(root, network), bound_socket(SOCK_DGRAM, ip)};
    const auto tcp = bound_socket(SOCK_STREAM, ip);
    const std::string pid = std::to_string(::getpid()) + "\n";
    gctool::write_all(ready.borrow(), pid, "readiness pipe");
    ready = UniqueFd();
    loop.spawn(resolver.serve_udp());
    loop.spawn(resolver.serve_tcp(tcp.borrow()));
    net::DnsRecords check(root, network);
    find_droppable_ranges();
    // Gone once the network, or its last endpoint, has been for two checks in a row (the first
    // container's endpoint is recorded just after this process starts), decided under the
    // networks lock so that no attach can count on this resolver meanwhile. The lock is only
    // tried: gctool may hold it while it stops this process.
    // Between checks it waits on the loop (serving queries) while it is busy; once a check saw no
    // query since the one before and nothing is in flight, it parks (see park()) until the next
    // check or a query, which it then leaves to the loop.
    io::sync_wait(loop, [&]() -> io::Task<void> {
      std::uint64_t seen = ~std::uint64_t{0};
      bool woken = true;
      for (int idle = 0;;) {
        if (woken) {
          co_await io::sleep(loop, 1s);
        }
        idle = still_needed(root, network, check) ? 0 : idle + 1;
        if (idle >= 2 && unneeded_under_lock(root, network, check)) {
          co_return;
        }
        const bool quiet =
            resolver.queries == seen && resolver.forwards == 0 && resolver.tcp_connections == 0;
        seen = resolver.queries;
        woken = !quiet || park(resolver.udp.borrow(), tcp.borrow(), 1000);
      }
    }());
    // Straight out: the kernel closes the sockets and the lock; the tasks still on the loop
    // point into `resolver`, which must not be destroyed before them.
    ::_exit(0);
  } catch (const std::exception& e) {
    if (ready.valid()) {
      const std::string line = std::string("error ") + e.what() + "\n";
      gctool::write_all(ready.borrow(), line, "readiness pipe");
    }
    return 1;
  }
}
