// when_all() and when_any(): tasks run side by side on the loop as one unit. Each task runs in a
// chain of its own whose CancelSlot is a child of the group's slot, itself a child of the awaiting
// chain's slot: cancelling the awaiting chain (Loop::cancel, with_timeout) cancels every task.
//
// when_all waits for every task and returns their values in order; when one fails, the others
// are cancelled and, once all have finished, the first failure is rethrown. when_any returns the
// first task to finish (its index and value) once the others, cancelled, have finished too. A
// group cancelled from outside throws gctool::Cancelled (unless when_any already had a winner).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <gctool/core/error.hpp>
#include <gctool/io/cancel.hpp>
#include <gctool/io/task.hpp>

namespace gctool::io {

// What when_any returns for tasks with a value: which task finished first, and its value.
template <typename T>
struct FirstDone {
  std::size_t index;
  T value;
};

namespace detail {

// What the tasks of one when_all or when_any share.
class TaskGroup {
 public:
  TaskGroup(CancelSlot* parent, bool first_wins) noexcept
      : slot_(parent), first_wins_(first_wins) {}
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  CancelSlot* slot() noexcept { return &slot_; }
  const std::optional<std::size_t>& winner() const noexcept { return winner_; }

  void finished(std::size_t index) noexcept {
    if (first_wins_ && !winner_ && !error_) {
      winner_ = index;
      slot_.cancel();
    }
  }
  // Called from a member's unhandled_exception(), with the exception current.
  void failed() noexcept {
    try {
      throw;
    } catch (const Cancelled&) {
      cancelled_ = true;
      return;
    } catch (...) {
      if (error_ || winner_) {
        return;  // after the outcome is decided, further failures are the cancellation's echo
      }
      error_ = std::current_exception();
    }
    slot_.cancel();
  }
  // The first failure; else Cancelled when a member was cancelled and nothing was decided.
  void rethrow() const {
    if (error_) {
      std::rethrow_exception(error_);
    }
    if (cancelled_ && !winner_) {
      throw Cancelled();
    }
  }

  std::coroutine_handle<> parent;  // resumed by the last member to finish
  std::size_t remaining = 0;

 private:
  CancelSlot slot_;
  bool first_wins_;
  bool cancelled_ = false;
  std::optional<std::size_t> winner_;
  std::exception_ptr error_;
};

// The coroutine that runs one task of a group in its own chain.
class GroupMember {
 public:
  struct promise_type {
    template <typename... Rest>
    promise_type(TaskGroup& g, std::size_t i, Rest&...) noexcept
        : group(&g), index(i), slot(g.slot()) {}
    GroupMember get_return_object() noexcept {
      return GroupMember(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct Final {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        TaskGroup& g = *h.promise().group;
        if (--g.remaining == 0) {
          return g.parent;
        }
        return std::noop_coroutine();
      }
      void await_resume() const noexcept {}
    };
    Final final_suspend() const noexcept { return {}; }
    void return_void() noexcept { group->finished(index); }
    void unhandled_exception() noexcept { group->failed(); }
    CancelSlot* cancel_slot() noexcept { return &slot; }

    TaskGroup* group;
    std::size_t index;
    CancelSlot slot;
  };

  explicit GroupMember(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  GroupMember(GroupMember&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  GroupMember& operator=(GroupMember&&) = delete;
  // A member still suspended (the group itself is being destroyed) cancels what it awaits.
  ~GroupMember() {
    if (handle_) {
      handle_.destroy();
    }
  }
  void start() const { handle_.resume(); }

 private:
  std::coroutine_handle<promise_type> handle_;
};

template <typename T>
using Outcome = std::optional<std::conditional_t<std::is_void_v<T>, std::monostate, T>>;

template <typename T>
GroupMember run_member(TaskGroup& group, std::size_t index, Task<T> task, Outcome<T>& out) {
  (void)group;
  (void)index;
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    out.emplace();
  } else {
    out.emplace(co_await std::move(task));
  }
}

// Starts every member; the awaiting coroutine resumes when the last one has finished.
struct StartGroup {
  TaskGroup& group;
  std::vector<GroupMember>& members;
  bool await_ready() const noexcept { return members.empty(); }
  bool await_suspend(std::coroutine_handle<> parent) {
    group.parent = parent;
    group.remaining = members.size() + 1;  // none resumes the parent while the others start
    for (const GroupMember& member : members) {
      member.start();
    }
    return --group.remaining != 0;
  }
  void await_resume() const noexcept {}
};

template <typename T>
std::vector<GroupMember> make_members(TaskGroup& group, std::vector<Task<T>>& tasks,
                                      std::vector<Outcome<T>>& outcomes) {
  std::vector<GroupMember> members;
  members.reserve(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    members.push_back(run_member(group, i, std::move(tasks[i]), outcomes[i]));
  }
  return members;
}

}  // namespace detail

template <typename T>
using WhenAllResult = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;

// Runs all tasks side by side; their values in the order of `tasks`.
template <typename T>
Task<WhenAllResult<T>> when_all(std::vector<Task<T>> tasks) {
  CancelSlot** current = co_await detail::CurrentSlotRef{};
  detail::TaskGroup group(*current, false);
  std::vector<detail::Outcome<T>> outcomes(tasks.size());
  // Declared after the group and the outcomes, so destroyed before what they point to.
  std::vector<detail::GroupMember> members = detail::make_members(group, tasks, outcomes);
  co_await detail::StartGroup{group, members};
  members.clear();
  group.rethrow();
  if constexpr (std::is_void_v<T>) {
    co_return;
  } else {
    std::vector<T> values;
    values.reserve(outcomes.size());
    for (auto& outcome : outcomes) {
      values.push_back(std::move(*outcome));
    }
    co_return values;
  }
}

template <typename T>
using WhenAnyResult = std::conditional_t<std::is_void_v<T>, std::size_t, FirstDone<T>>;

// Runs all tasks side by side until the first finishes, then cancels the others and waits for
// them; the first one's index (and value).
template <typename T>
Task<WhenAnyResult<T>> when_any(std::vector<Task<T>> tasks) {
  if (tasks.empty()) {
    throw Error::invalid("io::when_any: no tasks");
  }
  CancelSlot** current = co_await detail::CurrentSlotRef{};
  detail::TaskGroup group(*current, true);
  std::vector<detail::Outcome<T>> outcomes(tasks.size());
  std::vector<detail::GroupMember> members = detail::make_members(group, tasks, outcomes);
  co_await detail::StartGroup{group, members};
  members.clear();
  group.rethrow();
  const std::size_t index = *group.winner();
  if constexpr (std::is_void_v<T>) {
    co_return index;
  } else {
    co_return FirstDone<T>{index, std::move(*outcomes[index])};
  }
}

}  // namespace gctool::io
