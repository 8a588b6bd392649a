// The definitions of Loop's members (loop.hpp includes this at its end): ring setup and probing,
// record recycling, reaping and resumption, spawned tasks. Inline, so that the io layer is
// header-only.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <utility>

#include <gctool/core/error.hpp>
#include <gctool/io/loop.hpp>

namespace gctool::io {

namespace detail {

inline constexpr unsigned kChunkSize = 64;
inline constexpr int kOpWaitid = 50;  // IORING_OP_WAITID (Linux 6.7), newer than Debian's headers

inline bool probe_waitid(io_uring& ring) noexcept {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    return false;
  }
  const bool supported = kOpWaitid <= probe->last_op && io_uring_opcode_supported(probe, kOpWaitid);
  io_uring_free_probe(probe);
  return supported;
}

inline bool is_cancellation(const std::exception_ptr& error) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

// The kernel may still write into memory that is about to be freed: stopping is the only safe
// way out. Plain write(2): this runs in destructors, with nothing to allocate.
[[noreturn]] inline void abort_abandoned(std::string_view why) noexcept {
  constexpr std::string_view kPrefix =
      "gctool: an abandoned io_uring operation that uses the caller's memory did not finish (";
  constexpr std::string_view kSuffix = "); aborting rather than freeing that memory\n";
  for (const std::string_view part : {kPrefix, why, kSuffix}) {
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, part.data(), part.size());
  }
  std::abort();
}

// The coroutine that owns a spawned task: it gives the chain its CancelSlot and reports the end to
// the loop, then frees itself.
struct SpawnAccess {
  struct Promise;
  struct Root {
    using promise_type = Promise;
    std::coroutine_handle<Promise> handle;
  };
  struct Promise {
    Promise(Loop& l, std::uint64_t i, Task<void>&) noexcept : loop(&l), id(i) {}
    Root get_return_object() noexcept {
      return Root{std::coroutine_handle<Promise>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct Final {
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<Promise> h) const noexcept {
        Loop* loop = h.promise().loop;
        const std::uint64_t id = h.promise().id;
        std::exception_ptr error = std::move(h.promise().error);
        h.destroy();
        loop->spawned_done(id, std::move(error));
      }
      void await_resume() const noexcept {}
    };
    Final final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
    CancelSlot* cancel_slot() noexcept { return &slot; }

    Loop* loop;
    std::uint64_t id;
    CancelSlot slot;
    std::exception_ptr error;
  };

  static Root run(Loop& loop, std::uint64_t id, Task<void> task) {
    (void)loop;
    (void)id;
    co_await std::move(task);
  }
};

}  // namespace detail

inline Loop::Loop(LoopOptions options) : options_(std::move(options)) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL;
  int rc = io_uring_queue_init_params(options_.entries, &ring_, &params);
  if (rc == -EINVAL) {
    params = io_uring_params{};
    rc = io_uring_queue_init_params(options_.entries, &ring_, &params);
  }
  check_neg(rc, "io_uring_queue_init with {} entries", options_.entries);
  has_waitid_ = !options_.force_waitid_fallback && detail::probe_waitid(ring_);
}

inline Loop::~Loop() {
  // Destroying a suspended chain runs its awaiters' destructors, which cancel their operations
  // (and wait for those that borrow the caller's memory).
  while (!spawned_.empty()) {
    auto it = spawned_.begin();
    const std::coroutine_handle<> handle = it->second.handle;
    spawned_.erase(it);
    handle.destroy();
  }
  for (auto& chunk : chunks_) {
    for (unsigned i = 0; i < detail::kChunkSize; ++i) {
      request_cancel(&chunk[i]);
    }
  }
  while (in_flight_ > 0) {
    const int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      break;
    }
    reap();
  }
  io_uring_queue_exit(&ring_);
}

inline SpawnId Loop::spawn(Task<void> task) {
  const std::uint64_t id = next_spawn_id_++;
  auto root = detail::SpawnAccess::run(*this, id, std::move(task));
  try {
    spawned_.emplace(id, Spawned{root.handle, &root.handle.promise().slot});
    post(root.handle);
  } catch (...) {
    spawned_.erase(id);
    root.handle.destroy();
    throw;
  }
  return SpawnId{id};
}

inline bool Loop::cancel(SpawnId id) noexcept {
  const auto it = spawned_.find(static_cast<std::uint64_t>(id));
  if (it == spawned_.end()) {
    return false;
  }
  it->second.slot->cancel();
  return true;
}

inline void Loop::cancel_all() noexcept {
  for (auto& [id, spawned] : spawned_) {
    spawned.slot->cancel();
  }
}

inline void Loop::spawned_done(std::uint64_t id, std::exception_ptr error) noexcept {
  spawned_.erase(id);
  if (!error || detail::is_cancellation(error)) {
    return;
  }
  if (options_.on_spawn_error) {
    try {
      options_.on_spawn_error(error);
    } catch (...) {
      spawn_errors_.push_back(std::current_exception());
    }
    return;
  }
  spawn_errors_.push_back(std::move(error));
}

inline void Loop::rethrow_spawn_error() {
  if (!spawn_errors_.empty()) {
    std::exception_ptr error = std::move(spawn_errors_.front());
    spawn_errors_.erase(spawn_errors_.begin());
    std::rethrow_exception(error);
  }
}

inline bool Loop::run_once(bool wait) {
  rethrow_spawn_error();
  const bool block = wait && ready_head_ == nullptr && in_flight_ > 0;
  const int rc = io_uring_submit_and_wait(&ring_, block ? 1 : 0);
  if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
    throw Error(-rc, "io_uring_submit_and_wait");
  }
  reap();
  run_ready();
  rethrow_spawn_error();
  return in_flight_ > 0 || ready_head_ != nullptr;
}

inline io_uring_sqe* Loop::get_sqe() {
  for (;;) {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) {
      return sqe;
    }
    const int rc = io_uring_submit(&ring_);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      throw Error(-rc, "io_uring_submit");
    }
    reap();
  }
}

inline detail::OpRecord* Loop::allocate_record() {
  if (free_ == nullptr) {
    auto chunk = std::make_unique<detail::OpRecord[]>(detail::kChunkSize);
    for (unsigned i = 0; i < detail::kChunkSize; ++i) {
      chunk[i].next = free_;
      free_ = &chunk[i];
    }
    chunks_.push_back(std::move(chunk));
  }
  detail::OpRecord* rec = std::exchange(free_, free_->next);
  rec->next = nullptr;
  return rec;
}

inline void Loop::free_record(detail::OpRecord* rec) noexcept {
  rec->waiter = nullptr;
  rec->callback = nullptr;
  rec->context = nullptr;
  rec->discard = nullptr;
  rec->res = 0;
  rec->cqe_flags = 0;
  rec->in_kernel = false;
  rec->attached = false;
  rec->queued = false;
  rec->cancel_requested = false;
  rec->next = free_;
  free_ = rec;
}

inline void Loop::recycle_if_unused(detail::OpRecord* rec) noexcept {
  if (!rec->in_kernel && !rec->attached && !rec->queued) {
    free_record(rec);
  }
}

inline void Loop::arm(io_uring_sqe* sqe, detail::OpRecord* rec,
                      std::coroutine_handle<> waiter) noexcept {
  io_uring_sqe_set_data(sqe, rec);
  rec->waiter = waiter;
  rec->attached = true;
  rec->in_kernel = true;
  ++in_flight_;
}

inline void Loop::arm_callback(io_uring_sqe* sqe, detail::OpRecord* rec,
                               void (*callback)(void*, int), void* context) noexcept {
  io_uring_sqe_set_data(sqe, rec);
  rec->callback = callback;
  rec->context = context;
  rec->in_kernel = true;
  ++in_flight_;
}

inline void Loop::detach_callback(detail::OpRecord* rec) noexcept {
  rec->callback = nullptr;
  rec->context = nullptr;
  request_cancel(rec);
  recycle_if_unused(rec);
}

inline void Loop::request_cancel(detail::OpRecord* rec) noexcept {
  if (!rec->in_kernel || rec->cancel_requested) {
    return;
  }
  rec->cancel_requested = true;
  io_uring_sqe* sqe = nullptr;
  try {
    sqe = get_sqe();
  } catch (...) {
    rec->cancel_requested = false;
    return;
  }
  // get_sqe() may have reaped rec's completion; then there is nothing left to cancel.
  if (rec->in_kernel) {
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uintptr_t>(rec), 0);
  } else {
    io_uring_prep_nop(sqe);
  }
  io_uring_sqe_set_data64(sqe, 0);
}

inline void Loop::wait_for_completion(detail::OpRecord* rec) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + options_.abandon_limit;
  while (rec->in_kernel) {
    // Wakes up now and then to ask again: a cancel that met the operation between two states
    // finds nothing to cancel.
    __kernel_timespec tick{0, 100'000'000};
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &tick, nullptr);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
      detail::abort_abandoned(std::strerror(-rc));
    }
    reap();
    if (!rec->in_kernel) {
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      detail::abort_abandoned("still running past LoopOptions::abandon_limit");
    }
    rec->cancel_requested = false;
    request_cancel(rec);
  }
}

inline void Loop::release(detail::OpRecord* rec) noexcept {
  rec->attached = false;
  rec->waiter = nullptr;
  recycle_if_unused(rec);
}

inline void Loop::post(std::coroutine_handle<> h) {
  detail::OpRecord* rec = allocate_record();
  rec->waiter = h;
  enqueue(rec);
}

inline void Loop::unpost(std::coroutine_handle<> h) noexcept {
  detail::OpRecord* previous = nullptr;
  for (detail::OpRecord* rec = ready_head_; rec != nullptr;) {
    detail::OpRecord* next = rec->next;
    if (!rec->attached && rec->callback == nullptr && rec->waiter == h) {
      (previous != nullptr ? previous->next : ready_head_) = next;
      if (ready_tail_ == rec) {
        ready_tail_ = previous;
      }
      free_record(rec);
    } else {
      previous = rec;
    }
    rec = next;
  }
}

inline void Loop::enqueue(detail::OpRecord* rec) noexcept {
  rec->queued = true;
  rec->next = nullptr;
  if (ready_tail_ != nullptr) {
    ready_tail_->next = rec;
  } else {
    ready_head_ = rec;
  }
  ready_tail_ = rec;
}

inline void Loop::reap() noexcept {
  for (;;) {
    unsigned head = 0;
    unsigned count = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      complete(cqe);
      ++count;
    }
    io_uring_cq_advance(&ring_, count);
    // Completions the kernel kept aside while the CQ ring was full come back on the next enter.
    if (!io_uring_cq_has_overflow(&ring_)) {
      return;
    }
    if (io_uring_get_events(&ring_) < 0 && count == 0) {
      return;
    }
  }
}

inline void Loop::complete(const io_uring_cqe* cqe) noexcept {
  auto* rec = reinterpret_cast<detail::OpRecord*>(static_cast<std::uintptr_t>(cqe->user_data));
  if (rec == nullptr || cqe->user_data == LIBURING_UDATA_TIMEOUT) {
    return;  // an ASYNC_CANCEL request, a NOP, or liburing's own timeout of a timed wait
  }
  rec->res = cqe->res;
  rec->cqe_flags = cqe->flags;
  rec->in_kernel = false;
  --in_flight_;
  if (rec->attached || rec->callback != nullptr) {
    enqueue(rec);
  } else {
    if (rec->discard != nullptr) {
      rec->discard(rec->res);
    }
    recycle_if_unused(rec);
  }
}

inline void Loop::run_ready() {
  // Only what is ready now: coroutines that post again run on the next iteration.
  detail::OpRecord* rec = std::exchange(ready_head_, nullptr);
  ready_tail_ = nullptr;
  while (rec != nullptr) {
    detail::OpRecord* next = rec->next;
    rec->queued = false;
    rec->next = nullptr;
    if (rec->attached) {
      rec->waiter.resume();  // the awaiter releases the record
    } else {
      const std::coroutine_handle<> waiter = rec->waiter;
      void (*callback)(void*, int) = rec->callback;
      void* context = rec->context;
      const int res = rec->res;
      free_record(rec);
      if (callback != nullptr) {
        callback(context, res);
      } else if (waiter) {
        waiter.resume();
      }
    }
    rec = next;
  }
}

}  // namespace gctool::io
