// Sleeping on the loop (IORING_OP_TIMEOUT): other coroutines keep running meanwhile.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <gctool/core/error.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/operation.hpp>
#include <gctool/io/task.hpp>

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

// Until `value` is back to zero (a count of open streams, a "still running" flag) or `limit` has
// passed (then false), looking again after the loop has run what became ready: first within
// 50 us, then at intervals doubling up to 10 ms. For work that ends by itself just after an event
// and has no signal of its own to wait on: the pipes of a process reach their end as it exits, and
// their reads complete in the same or the next loop turn. `value` must outlive the wait.
template <typename T>
Task<bool> wait_until_zero(Loop& loop, const T& value, std::chrono::nanoseconds limit) {
  using namespace std::chrono_literals;
  std::chrono::nanoseconds step = 50us;
  std::chrono::nanoseconds waited = 0ns;
  while (value != T{}) {
    if (waited >= limit) {
      co_return false;
    }
    co_await sleep(loop, step);
    waited += step;
    step = std::min<std::chrono::nanoseconds>(step * 2, 10ms);
  }
  co_return true;
}

}  // namespace gctool::io
