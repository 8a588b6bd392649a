// Operation<Policy>: the one awaitable behind every io_uring operation. A policy fills the SQE and
// turns the CQE's result into a typed value:
//
//   struct ReadPolicy {
//     using result_type = std::size_t;
//     static constexpr bool kBorrowsMemory = true;  // the kernel uses the caller's buffer
//     void prepare(io_uring_sqe* sqe, detail::OpRecord& rec) const noexcept;
//     result_type complete(int res, detail::OpRecord& rec) const;  // res is never -ECANCELED
//     static void discard(int res) noexcept;  // optional: frees a result nobody will take
//   };
//
// The CQE points at a loop-owned record, never at the awaiter. If the awaiting coroutine is
// destroyed while the operation is pending, the operation is cancelled (IORING_OP_ASYNC_CANCEL);
// when the policy borrows memory (a read buffer), the destructor also waits for the final CQE so
// the kernel cannot write into freed memory (bounded by LoopOptions::abandon_limit). A result
// that arrives for an abandoned operation (a new fd that an accept made before the cancel) goes
// to the policy's discard(). A cancelled operation throws gctool::Cancelled.
#pragma once

#include <cerrno>
#include <concepts>
#include <coroutine>
#include <utility>

#include <gctool/core/error.hpp>
#include <gctool/io/cancel.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/task.hpp>

namespace gctool::io {

template <typename P>
concept OperationPolicy = requires(const P& policy, io_uring_sqe* sqe, detail::OpRecord& rec) {
  typename P::result_type;
  { P::kBorrowsMemory } -> std::convertible_to<bool>;
  { policy.prepare(sqe, rec) }
  noexcept;
  { policy.complete(0, rec) } -> std::same_as<typename P::result_type>;
};

// Policies whose result owns a resource (a new fd) and must be freed when nobody takes it.
template <typename P>
concept DiscardsResult = requires(int res) {
  { P::discard(res) }
  noexcept;
};

template <OperationPolicy Policy>
class [[nodiscard]] Operation final : private CancelTarget {
 public:
  using result_type = typename Policy::result_type;

  Operation(Loop& loop, Policy policy) noexcept : loop_(&loop), policy_(std::move(policy)) {}
  // Only an operation that has not been awaited yet may be moved.
  Operation(Operation&& other) noexcept : loop_(other.loop_), policy_(std::move(other.policy_)) {}
  Operation& operator=(Operation&&) = delete;
  ~Operation() { abandon(); }

  bool await_ready() const noexcept { return false; }

  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> awaiting) {
    slot_ = detail::cancel_slot_of(awaiting);
    if (slot_ != nullptr && slot_->cancelled()) {
      return false;  // await_resume throws Cancelled
    }
    // The record first: an SQE taken from the ring must be filled, or it would be submitted stale.
    record_ = loop_->allocate_record();
    io_uring_sqe* sqe = nullptr;
    try {
      sqe = loop_->get_sqe();
    } catch (...) {
      loop_->release(std::exchange(record_, nullptr));
      throw;
    }
    policy_.prepare(sqe, *record_);
    loop_->arm(sqe, record_, awaiting);
    if (slot_ != nullptr) {
      slot_->set_target(this);
    }
    return true;
  }

  result_type await_resume() {
    detach_slot();
    if (record_ == nullptr) {
      throw Cancelled();
    }
    detail::OpRecord* rec = std::exchange(record_, nullptr);
    struct Release {
      Loop* loop;
      detail::OpRecord* rec;
      ~Release() { loop->release(rec); }
    } release{loop_, rec};
    if (rec->res == -ECANCELED || (rec->cancel_requested && rec->res == -EINTR)) {
      throw Cancelled();
    }
    return policy_.complete(rec->res, *rec);
  }

  const Policy& policy() const noexcept { return policy_; }

 private:
  void cancel() noexcept override {
    if (record_ != nullptr) {
      loop_->request_cancel(record_);
    }
  }

  void detach_slot() noexcept {
    if (slot_ != nullptr) {
      slot_->clear_target(this);
      slot_ = nullptr;
    }
  }

  void abandon() noexcept {
    detach_slot();
    if (record_ == nullptr) {
      return;
    }
    detail::OpRecord* rec = std::exchange(record_, nullptr);
    loop_->request_cancel(rec);
    if constexpr (Policy::kBorrowsMemory) {
      loop_->wait_for_completion(rec);
    }
    if constexpr (DiscardsResult<Policy>) {
      // Completed already (its resumption queued, or reaped just now) or completing later.
      if (rec->in_kernel) {
        rec->discard = &Policy::discard;
      } else {
        Policy::discard(rec->res);
      }
    }
    loop_->release(rec);
  }

  Loop* loop_;
  Policy policy_;
  CancelSlot* slot_ = nullptr;
  detail::OpRecord* record_ = nullptr;
};

}  // namespace gctool::io
