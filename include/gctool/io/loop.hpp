// Loop: the single-threaded io_uring event loop that runs coroutines. It owns the ring, the records
// that completions point to (so a coroutine that goes away early never leaves the kernel pointing
// into freed memory), and the tasks given to spawn(). Drive it with run(), run_once(),
// run_until() or sync_wait(). A Loop must outlive every task and operation that uses it, and it
// belongs to one thread and one process: after fork() the child makes its own Loop.
#pragma once

#include <liburing.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include <gctool/io/cancel.hpp>
#include <gctool/io/task.hpp>

namespace gctool::io {

namespace detail {

// What a CQE's user_data points to. Owned by the Loop and recycled only when the kernel is done
// with it (no CQE pending), nobody awaits it and it is not queued for resumption. Data the kernel
// reads or writes after submission (timespec, siginfo, socket address) lives in `storage`.
struct OpRecord {
  std::coroutine_handle<> waiter;
  void (*callback)(void*, int) = nullptr;  // instead of a waiter: runs on completion
  void* context = nullptr;
  // Set by an abandoned operation whose result is a resource (a new fd): frees the result of a
  // completion that arrives after the awaiter has gone.
  void (*discard)(int res) noexcept = nullptr;
  int res = 0;
  unsigned cqe_flags = 0;
  bool in_kernel = false;  // submitted (or queued for submission), final CQE not reaped yet
  bool attached = false;   // an awaiter owns a reference
  bool queued = false;     // on the ready list
  bool cancel_requested = false;
  union Storage {
    Storage() noexcept {}
    __kernel_timespec timeout;
    siginfo_t info;
    sockaddr_storage address;
  } storage;
  OpRecord* next = nullptr;  // free list or ready list
};

struct SpawnAccess;

}  // namespace detail

// Identifies a task given to Loop::spawn(), for Loop::cancel().
enum class SpawnId : std::uint64_t {};

struct LoopOptions {
  // Submission queue size; more operations than this may be in flight at once.
  unsigned entries = 256;
  // Await process exits by poll(pidfd) + waitid(WNOHANG) even when the kernel has
  // IORING_OP_WAITID (for tests, or to compare the two paths).
  bool force_waitid_fallback = false;
  // Receives the exception of a spawned task that failed (gctool::Cancelled excepted). When
  // empty, the exception is rethrown from the run()/run_once()/sync_wait() call that ran the task;
  // the loop stays usable.
  std::function<void(std::exception_ptr)> on_spawn_error;
  // How long destroying a coroutine may wait for the kernel to finish an operation that uses its
  // memory (a read buffer) after asking to cancel it. Past this, or when io_uring_enter fails
  // meanwhile, the process aborts: returning would free memory the kernel may still write to.
  std::chrono::milliseconds abandon_limit{10'000};
};

class Loop {
 public:
  Loop() : Loop(LoopOptions{}) {}
  explicit Loop(LoopOptions options);
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  // Destroys the spawned tasks that have not finished and cancels what is still in flight.
  ~Loop();

  // Starts a detached task owned by the loop; it first runs on the next run_once().
  SpawnId spawn(Task<void> task);
  // Cancels a spawned task's pending operation (it sees gctool::Cancelled). False when the task
  // has already finished.
  bool cancel(SpawnId id) noexcept;
  void cancel_all() noexcept;
  std::size_t spawned_count() const noexcept { return spawned_.size(); }

  // One iteration: submit, wait for a completion if `wait` and nothing is ready, resume what is
  // ready. Returns whether work remains (operations in flight or coroutines ready).
  bool run_once(bool wait = true);
  // Until no operation is in flight and nothing is ready.
  void run() {
    while (run_once(true)) {
    }
  }
  // Until done() is true, or until there is no work left; returns done().
  template <typename Pred>
  bool run_until(Pred done) {
    while (!done()) {
      if (!run_once(true)) {
        return done();
      }
    }
    return true;
  }

  // Whether the running kernel supports IORING_OP_WAITID (and it is not disabled by the options).
  bool has_waitid() const noexcept { return has_waitid_; }
  std::size_t operations_in_flight() const noexcept { return in_flight_; }

  // --- For awaitables (see operation.hpp); not needed by ordinary users. ---
  // A free SQE; when the queue is full, submits and reaps until one is free. Never null.
  io_uring_sqe* get_sqe();
  detail::OpRecord* allocate_record();
  // Marks sqe as the operation of rec, awaited by waiter.
  void arm(io_uring_sqe* sqe, detail::OpRecord* rec, std::coroutine_handle<> waiter) noexcept;
  // Arms a record that runs callback(context) on completion instead of resuming a coroutine.
  void arm_callback(io_uring_sqe* sqe, detail::OpRecord* rec, void (*callback)(void*, int res),
                    void* context) noexcept;
  // The callback's owner goes away: the callback will not run, the operation is cancelled.
  void detach_callback(detail::OpRecord* rec) noexcept;
  // Submits IORING_OP_ASYNC_CANCEL for rec if it is still in flight.
  void request_cancel(detail::OpRecord* rec) noexcept;
  // Blocks (reaping, not resuming) until rec's final CQE has arrived, asking again to cancel it
  // while it runs; aborts the process past LoopOptions::abandon_limit or when io_uring_enter fails.
  void wait_for_completion(detail::OpRecord* rec) noexcept;
  // The awaiter drops its reference; the record is recycled once the kernel is done with it.
  void release(detail::OpRecord* rec) noexcept;
  // Resumes h on the next iteration.
  void post(std::coroutine_handle<> h);
  // Takes back what post(h) queued and has not run yet (h is about to be destroyed).
  void unpost(std::coroutine_handle<> h) noexcept;

 private:
  friend struct detail::SpawnAccess;
  struct Spawned {
    std::coroutine_handle<> handle;
    CancelSlot* slot;
  };

  void reap() noexcept;
  void complete(const io_uring_cqe* cqe) noexcept;
  void enqueue(detail::OpRecord* rec) noexcept;
  void run_ready();
  void free_record(detail::OpRecord* rec) noexcept;
  void recycle_if_unused(detail::OpRecord* rec) noexcept;
  void spawned_done(std::uint64_t id, std::exception_ptr error) noexcept;
  void rethrow_spawn_error();

  io_uring ring_{};
  LoopOptions options_;
  bool has_waitid_ = false;
  std::size_t in_flight_ = 0;
  std::vector<std::unique_ptr<detail::OpRecord[]>> chunks_;
  detail::OpRecord* free_ = nullptr;
  detail::OpRecord* ready_head_ = nullptr;
  detail::OpRecord* ready_tail_ = nullptr;
  std::unordered_map<std::uint64_t, Spawned> spawned_;
  std::uint64_t next_spawn_id_ = 1;
  std::vector<std::exception_ptr> spawn_errors_;
};

}  // namespace gctool::io

#include <gctool/io/loop_impl.hpp>  // IWYU pragma: export
