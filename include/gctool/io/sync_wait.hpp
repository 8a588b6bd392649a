// sync_wait(): runs one task on a loop until it finishes and returns its value (or rethrows its
// exception). For main() and tests; never call it from inside a coroutine running on the loop.
#pragma once

#include <utility>

#include <gctool/core/error.hpp>
#include <gctool/io/cancel.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/task.hpp>

namespace gctool::io {

// Other spawned tasks run meanwhile; if one of them fails (and LoopOptions::on_spawn_error is not
// set) its exception leaves sync_wait, and `task` is destroyed, which cancels what it awaits.
template <typename T>
T sync_wait(Loop& loop, Task<T> task) {
  CancelSlot slot;
  // Declared after the slot so that it is destroyed first: its operations still point at it.
  Task<T> owned = std::move(task);
  if (!owned.valid()) {
    throw Error::invalid("io::sync_wait: empty task");
  }
  owned.handle().promise().set_cancel_slot(&slot);
  loop.post(owned.handle());
  bool done = false;
  try {
    done = loop.run_until([&owned] { return owned.done(); });
  } catch (...) {
    // An earlier spawned task's error can leave before the task first ran: the loop must not
    // keep it queued once it is destroyed.
    loop.unpost(owned.handle());
    throw;
  }
  if (!done) {
    throw Error::invalid("io::sync_wait: the task waits for something that is not on the loop");
  }
  return owned.handle().promise().take_result();
}

}  // namespace gctool::io
