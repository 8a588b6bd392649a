// Sleeping on the loop (IORING_OP_TIMEOUT): other coroutines keep running meanwhile.
#pragma once

#include <cerrno>
#include <chrono>

#include <gctool/core/error.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/operation.hpp>

namespace gctool::io {

namespace detail {

inline __kernel_timespec to_timespec(std::chrono::nanoseconds duration) noexcept {
  if (duration.count() < 0) {
    duration = std::chrono::nanoseconds(0);
  }
  __kernel_timespec ts{};
  ts.tv_sec = duration.count() / 1'000'000'000;
  ts.tv_nsec = duration.count() % 1'000'000'000;
  return ts;
}

}  // namespace detail

struct SleepPolicy {
  using result_type = void;
  static constexpr bool kBorrowsMemory = false;
  std::chrono::nanoseconds duration;

  void prepare(io_uring_sqe* sqe, detail::OpRecord& rec) const noexcept {
    // The kernel reads the timespec at submission, which may come later: keep it in the record.
    rec.storage.timeout = detail::to_timespec(duration);
    io_uring_prep_timeout(sqe, &rec.storage.timeout, 0, 0);
  }
  void complete(int res, detail::OpRecord&) const {
    if (res != -ETIME) {
      check_neg(res, "sleep");
    }
  }
};

using SleepOperation = Operation<SleepPolicy>;

// Completes after `duration` (monotonic clock).
inline SleepOperation sleep(Loop& loop, std::chrono::nanoseconds duration) {
  return SleepOperation(loop, SleepPolicy{duration});
}

}  // namespace gctool::io
