// Task<T>: a lazy, move-only coroutine that produces a T (or throws). Nothing runs until the task
// is awaited (co_await) or driven by sync_wait() / Loop::spawn(); on completion control transfers
// symmetrically to the awaiting coroutine, so chains of any depth that complete synchronously use
// constant stack. Exceptions thrown inside propagate to the awaiter. Awaiting consumes the result.
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include <gctool/core/error.hpp>
#include <gctool/io/cancel.hpp>

namespace gctool::io {

template <typename T = void>
class Task;

namespace detail {

// Promises that expose the cancellation slot of their chain; awaitables find it through this.
template <typename Promise>
concept HasCancelSlot = requires(Promise& p) {
  { p.cancel_slot() } -> std::same_as<CancelSlot*>;
};

template <typename Promise>
CancelSlot* cancel_slot_of(std::coroutine_handle<Promise> h) noexcept {
  if constexpr (HasCancelSlot<Promise>) {
    return h.promise().cancel_slot();
  } else {
    return nullptr;
  }
}

class TaskPromiseBase {
 public:
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
      const std::coroutine_handle<> next = h.promise().continuation_;
      if (next) {
        return next;
      }
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }

  CancelSlot* cancel_slot() const noexcept { return slot_; }
  void set_cancel_slot(CancelSlot* slot) noexcept { slot_ = slot; }
  void set_continuation(std::coroutine_handle<> continuation) noexcept {
    continuation_ = continuation;
  }

  // Lets a coroutine reach its own slot (with_timeout installs a nested one).
  CancelSlot** cancel_slot_ref() noexcept { return &slot_; }

 private:
  std::coroutine_handle<> continuation_;
  CancelSlot* slot_ = nullptr;
};

template <typename T>
class TaskPromise final : public TaskPromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }
  template <typename U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    result_.template emplace<1>(std::forward<U>(value));
  }
  T take_result() {
    if (result_.index() == 2) {
      std::rethrow_exception(std::get<2>(result_));
    }
    if (result_.index() != 1) {
      throw Error::invalid("io::Task: result taken twice or task not finished");
    }
    T value = std::move(std::get<1>(result_));
    result_.template emplace<0>();
    return value;
  }

 private:
  std::variant<std::monostate, T, std::exception_ptr> result_;
};

template <>
class TaskPromise<void> final : public TaskPromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }
  void return_void() const noexcept {}
  void take_result() {
    if (exception_) {
      std::rethrow_exception(std::exchange(exception_, nullptr));
    }
  }

 private:
  std::exception_ptr exception_;
};

// Gives a coroutine access to its own promise's slot (a Task's), to install a nested one.
struct CurrentSlotRef {
  CancelSlot** ref = nullptr;
  bool await_ready() const noexcept { return false; }
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h) noexcept {
    ref = h.promise().cancel_slot_ref();
    return false;
  }
  CancelSlot** await_resume() const noexcept { return ref; }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  Task() noexcept = default;
  explicit Task(handle_type h) noexcept : handle_(h) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  // Destroying a task that is suspended destroys its frame and those of the tasks it awaits; their
  // pending operations are cancelled.
  ~Task() { destroy(); }

  bool valid() const noexcept { return static_cast<bool>(handle_); }
  bool done() const noexcept { return handle_ && handle_.done(); }

  // For drivers (sync_wait, Loop::spawn): the frame stays owned by this Task.
  handle_type handle() const noexcept { return handle_; }

  auto operator co_await() & noexcept { return Awaiter{handle_}; }
  auto operator co_await() && noexcept { return Awaiter{handle_}; }

 private:
  struct Awaiter {
    handle_type task;
    bool await_ready() const noexcept { return !task || task.done(); }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> awaiting) noexcept {
      task.promise().set_continuation(awaiting);
      task.promise().set_cancel_slot(detail::cancel_slot_of(awaiting));
      return task;
    }
    T await_resume() {
      if (!task) {
        throw Error::invalid("io::Task: awaiting an empty task");
      }
      return task.promise().take_result();
    }
  };

  void destroy() noexcept {
    if (handle_) {
      handle_.destroy();
      handle_ = nullptr;
    }
  }

  handle_type handle_;
};

namespace detail {

template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

}  // namespace detail

}  // namespace gctool::io
