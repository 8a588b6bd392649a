// Cooperative cancellation of a chain of tasks. Every Task carries the CancelSlot of the chain it
// runs in; an operation that suspends registers itself as the slot's target, so cancelling the slot
// cancels exactly the operation the chain is waiting for (it then throws gctool::Cancelled).
// with_timeout() and Loop::cancel() use this; single-threaded like the loop.
#pragma once

namespace gctool::io {

// Something pending that can be asked to stop (an io_uring operation, a nested slot).
class CancelTarget {
 public:
  virtual void cancel() noexcept = 0;

 protected:
  CancelTarget() = default;
  CancelTarget(const CancelTarget&) = default;
  CancelTarget& operator=(const CancelTarget&) = default;
  ~CancelTarget() = default;
};

// The cancellation state of one chain of tasks. A slot made with a parent is cancelled with it;
// once cancelled it stays cancelled, and new operations started under it fail at once.
class CancelSlot final : public CancelTarget {
 public:
  CancelSlot() noexcept = default;
  explicit CancelSlot(CancelSlot* parent) noexcept : parent_(parent) {
    if (parent_ != nullptr) {
      cancelled_ = parent_->cancelled_;
      previous_child_ = parent_->child_;
      parent_->child_ = this;
    }
  }
  CancelSlot(const CancelSlot&) = delete;
  CancelSlot& operator=(const CancelSlot&) = delete;
  ~CancelSlot() {
    if (parent_ != nullptr) {
      parent_->child_ = previous_child_;
    }
  }

  void cancel() noexcept override {
    if (cancelled_) {
      return;
    }
    cancelled_ = true;
    if (child_ != nullptr) {
      child_->cancel();
    }
    if (target_ != nullptr) {
      target_->cancel();
    }
  }
  bool cancelled() const noexcept { return cancelled_; }

  // The pending operation of the chain; cleared when it completes or goes away.
  void set_target(CancelTarget* target) noexcept { target_ = target; }
  void clear_target(const CancelTarget* target) noexcept {
    if (target_ == target) {
      target_ = nullptr;
    }
  }

 private:
  CancelSlot* parent_ = nullptr;
  CancelSlot* child_ = nullptr;
  CancelSlot* previous_child_ = nullptr;
  CancelTarget* target_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace gctool::io
