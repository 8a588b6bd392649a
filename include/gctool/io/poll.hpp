// Waiting for readiness of a file descriptor (IORING_OP_POLL_ADD, one shot).
#pragma once

#include <poll.h>

#include <gctool/core/error.hpp>
#include <gctool/core/fd.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/operation.hpp>

namespace gctool::io {

struct PollPolicy {
  using result_type = unsigned;  // the revents mask (POLLIN, POLLHUP, ...)
  static constexpr bool kBorrowsMemory = false;
  BorrowedFd fd;
  unsigned events = POLLIN;

  void prepare(io_uring_sqe* sqe, detail::OpRecord&) const noexcept {
    io_uring_prep_poll_add(sqe, fd.get(), events);
  }
  unsigned complete(int res, detail::OpRecord&) const {
    return static_cast<unsigned>(check_neg(res, "poll fd {}", fd.get()));
  }
};

using PollOperation = Operation<PollPolicy>;

// Completes when fd has one of `events`; returns the events that are ready.
inline PollOperation poll(Loop& loop, BorrowedFd fd, unsigned events = POLLIN) {
  return PollOperation(loop, PollPolicy{fd, events});
}

}  // namespace gctool::io
