// SignalSet: receives signals as data on the loop. It blocks the given signals in the calling
// thread and reads them from a signalfd; next() waits for the next one. On destruction the signals
// that were not blocked before are unblocked again (pending ones are then delivered normally).
// Blocking affects only the calling thread; the loop is single-threaded, so that is the process.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <initializer_list>
#include <optional>

#include <gctool/core/error.hpp>
#include <gctool/core/fd.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/poll.hpp>
#include <gctool/io/task.hpp>

namespace gctool::io {

class SignalSet {
 public:
  explicit SignalSet(std::initializer_list<int> signals) {
    sigemptyset(&set_);
    for (const int signo : signals) {
      check(sigaddset(&set_, signo), "sigaddset {}", signo);
    }
    check_neg(-::pthread_sigmask(SIG_BLOCK, &set_, &previous_), "block signals");
    fd_ = UniqueFd(::signalfd(-1, &set_, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd_) {
      const int err = errno;
      restore();
      throw Error(err, "signalfd");
    }
  }
  SignalSet(const SignalSet&) = delete;
  SignalSet& operator=(const SignalSet&) = delete;
  ~SignalSet() { restore(); }

  BorrowedFd fd() const noexcept { return fd_.borrow(); }

  // A pending signal, or nothing.
  std::optional<signalfd_siginfo> try_next() {
    signalfd_siginfo info{};
    const ssize_t n = ::read(fd_.get(), &info, sizeof(info));
    if (n < 0 && errno == EAGAIN) {
      return std::nullopt;
    }
    check(n, "read signalfd");
    return info;
  }

  // Waits for the next signal. The signalfd is polled through the ring and read here, in this
  // thread: io_uring workers must not read it, they would see their own signals.
  Task<signalfd_siginfo> next(Loop& loop) {
    for (;;) {
      std::optional<signalfd_siginfo> info = try_next();
      if (info) {
        co_return *info;
      }
      co_await poll(loop, fd_.borrow(), POLLIN);
    }
  }

 private:
  void restore() noexcept {
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int signo = 1; signo < NSIG; ++signo) {
      if (sigismember(&set_, signo) == 1 && sigismember(&previous_, signo) != 1) {
        sigaddset(&unblock, signo);
      }
    }
    ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
  }

  sigset_t set_{};
  sigset_t previous_{};
  UniqueFd fd_;
};

}  // namespace gctool::io
