// with_timeout(): bounds any operation or task. When the duration expires first, the pending
// operation is cancelled and with_timeout throws io::TimedOut (a gctool::Error with ETIMEDOUT).
// When the work finishes first, the timer is cancelled and its result returned. Cancellation from
// outside (an enclosing with_timeout, Loop::cancel) still throws gctool::Cancelled.
#pragma once

#include <cerrno>
#include <chrono>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/chrono.h>

#include <gctool/core/error.hpp>
#include <gctool/io/cancel.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/operation.hpp>
#include <gctool/io/sleep.hpp>
#include <gctool/io/task.hpp>

namespace gctool::io {

// what() is "operation timed out after 50ms"; errno_value() is ETIMEDOUT.
class TimedOut : public Error {
 public:
  explicit TimedOut(std::chrono::nanoseconds after)
      : Error(ETIMEDOUT, "operation"),
        message_(fmt::format("operation timed out after {}",
                             std::chrono::duration_cast<std::chrono::milliseconds>(after))) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

namespace detail {

// A loop timer that cancels a CancelSlot when it expires. Destroying it first cancels the timer
// without touching the slot.
class SlotTimer {
 public:
  SlotTimer(Loop& loop, CancelSlot& slot, std::chrono::nanoseconds duration)
      : loop_(&loop), slot_(&slot) {
    record_ = loop.allocate_record();
    io_uring_sqe* sqe = nullptr;
    try {
      sqe = loop.get_sqe();
    } catch (...) {
      loop.release(record_);
      throw;
    }
    record_->storage.timeout = to_timespec(duration);
    io_uring_prep_timeout(sqe, &record_->storage.timeout, 0, 0);
    loop.arm_callback(sqe, record_, &SlotTimer::on_completion, this);
  }
  SlotTimer(const SlotTimer&) = delete;
  SlotTimer& operator=(const SlotTimer&) = delete;
  ~SlotTimer() {
    if (record_ != nullptr) {
      loop_->detach_callback(record_);
    }
  }
  bool fired() const noexcept { return fired_; }

 private:
  static void on_completion(void* context, int res) noexcept {
    auto* self = static_cast<SlotTimer*>(context);
    self->record_ = nullptr;  // the loop recycles it
    if (res == -ETIME) {
      self->fired_ = true;
      self->slot_->cancel();
    }
  }

  Loop* loop_;
  CancelSlot* slot_;
  detail::OpRecord* record_ = nullptr;
  bool fired_ = false;
};

template <typename Work>
struct WorkResult;
template <typename T>
struct WorkResult<Task<T>> {
  using type = T;
};
template <typename Policy>
struct WorkResult<Operation<Policy>> {
  using type = typename Policy::result_type;
};

}  // namespace detail

// Runs `work`, a Task or an Operation, with a time limit; returns a Task of the work's result.
// Only work suspended on loop operations (or on tasks that are) can be interrupted.
template <typename Work>
Task<typename detail::WorkResult<Work>::type> with_timeout(Loop& loop, Work work,
                                                           std::chrono::nanoseconds duration) {
  using Result = typename detail::WorkResult<Work>::type;
  CancelSlot** current = co_await detail::CurrentSlotRef{};
  CancelSlot* outer = *current;
  CancelSlot slot(outer);
  *current = &slot;
  struct Restore {
    CancelSlot** current;
    CancelSlot* outer;
    ~Restore() { *current = outer; }
  } restore{current, outer};
  detail::SlotTimer timer(loop, slot, duration);
  // Declared last so that it is destroyed before the timer and the slot it points to.
  Work owned = std::move(work);
  try {
    if constexpr (std::is_void_v<Result>) {
      co_await std::move(owned);
      co_return;
    } else {
      co_return co_await std::move(owned);
    }
  } catch (const Cancelled&) {
    if (timer.fired() && (outer == nullptr || !outer->cancelled())) {
      throw TimedOut(duration);
    }
    throw;
  }
}

}  // namespace gctool::io
