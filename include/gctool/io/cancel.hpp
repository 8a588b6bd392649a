// Cooperative cancellation of a chain of tasks. Every Task carries the CancelSlot of the chain it
// runs in; an operation that suspends registers itself as the slot's target, so cancelling the slot
// cancels exactly the operation the chain is waiting for (it then throws gctool::Cancelled).
// with_timeout(), when_all(), when_any() and Loop::cancel() use this; single-threaded like the
// loop.
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

// The cancellation state of one chain of tasks. Slots form a tree: a slot made with a parent is
// cancelled with it, and a parent may have any number of children (the chains that when_all runs
// side by side, a with_timeout's nested slot). Once cancelled a slot stays cancelled, and new
// operations started under it fail at once.
class CancelSlot final : public CancelTarget {
 public:
  CancelSlot() noexcept = default;
  explicit CancelSlot(CancelSlot* parent) noexcept : parent_(parent) {
    if (parent_ != nullptr) {
      cancelled_ = parent_->cancelled_;
      next_sibling_ = parent_->first_child_;
      if (next_sibling_ != nullptr) {
        next_sibling_->previous_sibling_ = this;
      }
      parent_->first_child_ = this;
    }
  }
  CancelSlot(const CancelSlot&) = delete;
  CancelSlot& operator=(const CancelSlot&) = delete;
  ~CancelSlot() {
    for (CancelSlot* child = first_child_; child != nullptr; child = child->next_sibling_) {
      child->parent_ = nullptr;
    }
    if (parent_ == nullptr) {
      return;
    }
    if (previous_sibling_ != nullptr) {
      previous_sibling_->next_sibling_ = next_sibling_;
    } else {
      parent_->first_child_ = next_sibling_;
    }
    if (next_sibling_ != nullptr) {
      next_sibling_->previous_sibling_ = previous_sibling_;
    }
  }

  // Cancels the pending operation of this chain and of every chain below it. Only asks the loop
  // to cancel (nothing is resumed here), so the tree does not change meanwhile.
  void cancel() noexcept override {
    if (cancelled_) {
      return;
    }
    cancelled_ = true;
    for (CancelSlot* child = first_child_; child != nullptr; child = child->next_sibling_) {
      child->cancel();
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
  CancelSlot* first_child_ = nullptr;
  CancelSlot* previous_sibling_ = nullptr;
  CancelSlot* next_sibling_ = nullptr;
  CancelTarget* target_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace gctool::io
