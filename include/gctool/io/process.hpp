// Awaiting the exit of a child process through its pidfd. Uses IORING_OP_WAITID when the kernel
// has it (Loop::has_waitid()), otherwise polls the pidfd and reaps with waitid(P_PIDFD, WNOHANG).
// Either way the child is reaped and its siginfo_t returned: si_code CLD_EXITED with the exit
// status in si_status, or CLD_KILLED / CLD_DUMPED with the signal number.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstring>

#include <gctool/core/error.hpp>
#include <gctool/core/fd.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/operation.hpp>
#include <gctool/io/poll.hpp>
#include <gctool/io/task.hpp>

namespace gctool::io {

namespace detail {

// kOpWaitid (IORING_OP_WAITID) is in loop_impl.hpp, which probes for it.
inline constexpr int kIdPidfd = 3;  // P_PIDFD, missing from glibc's idtype_t

}  // namespace detail

// IORING_OP_WAITID on a pidfd. The kernel ABI: fd = the id, len = idtype, file_index = options,
// addr2 = siginfo_t*; addr, buf_index, addr3 and the flags word must be 0.
struct WaitidPolicy {
  using result_type = siginfo_t;
  static constexpr bool kBorrowsMemory = false;
  BorrowedFd pidfd;
  int options = WEXITED;

  void prepare(io_uring_sqe* sqe, detail::OpRecord& rec) const noexcept {
    std::memset(&rec.storage.info, 0, sizeof(rec.storage.info));
    io_uring_prep_rw(detail::kOpWaitid, sqe, pidfd.get(), nullptr, detail::kIdPidfd, 0);
    sqe->file_index = static_cast<std::uint32_t>(options);
    sqe->addr2 = reinterpret_cast<std::uintptr_t>(&rec.storage.info);
  }
  siginfo_t complete(int res, detail::OpRecord& rec) const {
    check_neg(res, "waitid on pidfd {}", pidfd.get());
    return rec.storage.info;
  }
};

using WaitidOperation = Operation<WaitidPolicy>;

// Non-blocking reap of the process behind pidfd; si_pid is 0 while it is still running.
inline siginfo_t try_reap(BorrowedFd pidfd) {
  siginfo_t info{};
  check(::waitid(static_cast<idtype_t>(detail::kIdPidfd), static_cast<id_t>(pidfd.get()), &info,
                 WEXITED | WNOHANG),
        "waitid on pidfd {}", pidfd.get());
  return info;
}

// Waits until the child behind pidfd exits and reaps it. The caller must be its parent.
inline Task<siginfo_t> wait_exit(Loop& loop, BorrowedFd pidfd) {
  if (loop.has_waitid()) {
    co_return co_await WaitidOperation(loop, WaitidPolicy{pidfd, WEXITED});
  }
  for (;;) {
    const siginfo_t info = try_reap(pidfd);
    if (info.si_pid != 0) {
      co_return info;
    }
    co_await poll(loop, pidfd, POLLIN);
  }
}

// The shell's convention for a siginfo_t from wait_exit: the exit status, or 128 + signal.
inline int exit_code(const siginfo_t& info) noexcept {
  if (info.si_code == CLD_EXITED) {
    return info.si_status;
  }
  return 128 + info.si_status;
}

}  // namespace gctool::io
