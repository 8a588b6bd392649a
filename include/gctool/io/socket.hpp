// TCP (or any stream socket) accept and connect through the loop.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <gctool/core/error.hpp>
#include <gctool/core/fd.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/operation.hpp>

namespace gctool::io {

struct AcceptPolicy {
  using result_type = UniqueFd;
  static constexpr bool kBorrowsMemory = false;
  BorrowedFd listener;

  void prepare(io_uring_sqe* sqe, detail::OpRecord&) const noexcept {
    io_uring_prep_accept(sqe, listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
  }
  UniqueFd complete(int res, detail::OpRecord&) const {
    return UniqueFd(check_neg(res, "accept on fd {}", listener.get()));
  }
  // A connection accepted for an awaiter that has gone away is closed, not leaked.
  static void discard(int res) noexcept {
    if (res >= 0) {
      ::close(res);
    }
  }
};

struct ConnectPolicy {
  using result_type = void;
  static constexpr bool kBorrowsMemory = false;
  BorrowedFd socket;
  sockaddr_storage address;
  socklen_t length;

  void prepare(io_uring_sqe* sqe, detail::OpRecord& rec) const noexcept {
    // The kernel may read the address after the awaiter is gone: the record keeps a copy.
    rec.storage.address = address;
    io_uring_prep_connect(sqe, socket.get(),
                          reinterpret_cast<const sockaddr*>(&rec.storage.address), length);
  }
  void complete(int res, detail::OpRecord&) const { check_neg(res, "connect fd {}", socket.get()); }
};

using AcceptOperation = Operation<AcceptPolicy>;
using ConnectOperation = Operation<ConnectPolicy>;

// Accepts one connection; the new socket is close-on-exec.
inline AcceptOperation accept(Loop& loop, BorrowedFd listener) {
  return AcceptOperation(loop, AcceptPolicy{listener});
}

// Connects socket to address (copied, so it need not outlive the call).
inline ConnectOperation connect(Loop& loop, BorrowedFd socket, const sockaddr* address,
                                socklen_t length) {
  ConnectPolicy policy{socket, {}, 0};
  if (length > sizeof(policy.address)) {
    length = sizeof(policy.address);
  }
  std::memcpy(&policy.address, address, length);
  policy.length = length;
  return ConnectOperation(loop, policy);
}

}  // namespace gctool::io
