// accept and connect on 127.0.0.1 through the loop.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>

#include <gctool/core/fd.hpp>
#include <gctool/io/rw.hpp>
#include <gctool/io/socket.hpp>
#include <gctool/io/sync_wait.hpp>
#include <gctool/io/timeout.hpp>

namespace io = gctool::io;
using gctool::BorrowedFd;
using gctool::UniqueFd;
using namespace std::chrono_literals;

namespace {

UniqueFd tcp_socket() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  return fd;
}

// A listener on 127.0.0.1 with a port the kernel picked.
std::pair<UniqueFd, sockaddr_in> listen_loopback() {
  UniqueFd fd = tcp_socket();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd.get(), 16) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  return {std::move(fd), addr};
}

io::Task<std::string> read_some(io::Loop& loop, BorrowedFd fd) {
  std::array<char, 64> buffer{};
  const std::size_t n = co_await io::read(loop, fd, std::span<char>(buffer));
  co_return std::string(buffer.data(), n);
}

io::Task<void> serve_one(io::Loop& loop, BorrowedFd listener) {
  UniqueFd conn = co_await io::accept(loop, listener);
  const std::string request = co_await read_some(loop, conn);
  co_await io::write_all(loop, conn, "re: " + request);
}

io::Task<std::string> client(io::Loop& loop, sockaddr_in addr) {
  UniqueFd fd = tcp_socket();
  co_await io::connect(loop, fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  co_await io::write_all(loop, fd, "ping");
  co_return co_await read_some(loop, fd);
}

io::Task<void> accept_into(io::Loop& loop, BorrowedFd listener, UniqueFd& out) {
  out = co_await io::accept(loop, listener);
}

// Whether the other end of `peer` was closed: it reads end of file (the wait is only a bound).
bool sees_end_of_file(BorrowedFd peer) {
  pollfd p{peer.get(), POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 10'000) != 1) {
    return false;
  }
  char byte = 0;
  return ::recv(peer.get(), &byte, 1, MSG_DONTWAIT) == 0;
}

// An accept submitted to the kernel, then a peer that connects to it before the loop runs again.
struct PendingAccept {
  io::Loop loop;
  std::pair<UniqueFd, sockaddr_in> listener = listen_loopback();
  UniqueFd accepted;
  std::optional<io::Task<void>> acceptor;
  UniqueFd peer = tcp_socket();

  PendingAccept() {
    acceptor.emplace(accept_into(loop, listener.first, accepted));
    loop.post(acceptor->handle());
    loop.run_once(false);
    loop.run_once(false);
    REQUIRE(loop.operations_in_flight() == 1);
    const sockaddr_in& addr = listener.second;
    REQUIRE(::connect(peer.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
  }
};

}  // namespace

TEST_CASE("accept and connect on 127.0.0.1", "[io][socket]") {
  io::Loop loop;
  auto [listener, addr] = listen_loopback();
  loop.spawn(serve_one(loop, listener));
  CHECK(io::sync_wait(loop, client(loop, addr)) == "re: ping");
  loop.run();
  CHECK(loop.spawned_count() == 0);
}

TEST_CASE("accepted sockets are close-on-exec", "[io][socket]") {
  io::Loop loop;
  auto [listener, addr] = listen_loopback();
  auto accept_one = [](io::Loop& l, BorrowedFd fd) -> io::Task<UniqueFd> {
    co_return co_await io::accept(l, fd);
  };
  UniqueFd peer = tcp_socket();
  REQUIRE(::connect(peer.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  UniqueFd conn = io::sync_wait(loop, accept_one(loop, listener));
  CHECK((::fcntl(conn.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("connecting to a closed port fails with ECONNREFUSED", "[io][socket]") {
  io::Loop loop;
  sockaddr_in addr{};
  {
    auto [listener, bound] = listen_loopback();
    addr = bound;
  }  // the port is free again
  try {
    io::sync_wait(loop, client(loop, addr));
    FAIL("connected");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ECONNREFUSED);
  }
}

TEST_CASE("a pending accept can be bounded by a timeout", "[io][socket]") {
  io::Loop loop;
  auto [listener, addr] = listen_loopback();
  CHECK_THROWS_AS(io::sync_wait(loop, io::with_timeout(loop, io::accept(loop, listener), 10ms)),
                  io::TimedOut);
  CHECK(loop.operations_in_flight() == 0);
}

TEST_CASE("an accept abandoned after its connection arrived closes the new socket",
          "[io][socket]") {
  PendingAccept a;
  a.acceptor.reset();  // the accept has completed in the kernel: the cancel comes too late
  a.loop.run();
  CHECK_FALSE(a.accepted.valid());
  CHECK(sees_end_of_file(a.peer));
}

TEST_CASE("an accept abandoned while its completion waits to be resumed closes the new socket",
          "[io][socket]") {
  PendingAccept a;
  // Queued before the accept's completion is reaped, so it runs first in the same iteration.
  auto drop = [&a]() -> io::Task<void> {
    a.acceptor.reset();
    co_return;
  };
  io::Task<void> dropper = drop();
  a.loop.post(dropper.handle());
  a.loop.run();
  CHECK(dropper.done());
  CHECK_FALSE(a.accepted.valid());
  CHECK(sees_end_of_file(a.peer));
}
