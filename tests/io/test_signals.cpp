// SignalSet: signals as data on the loop.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>

#include <gctool/io/signals.hpp>
#include <gctool/io/sleep.hpp>
#include <gctool/io/sync_wait.hpp>

namespace io = gctool::io;
using namespace std::chrono_literals;

namespace {

bool blocked(int signo) {
  sigset_t current;
  REQUIRE(::pthread_sigmask(SIG_BLOCK, nullptr, &current) == 0);
  return sigismember(&current, signo) == 1;
}

}  // namespace

TEST_CASE("a signal sent while a task waits is received as data", "[io][signals]") {
  io::Loop loop;
  REQUIRE_FALSE(blocked(SIGUSR1));
  {
    io::SignalSet signals{SIGUSR1, SIGWINCH};
    CHECK(blocked(SIGUSR1));
    CHECK(blocked(SIGWINCH));
    loop.spawn([](io::Loop& l) -> io::Task<void> {
      co_await io::sleep(l, 5ms);
      REQUIRE(::kill(::getpid(), SIGWINCH) == 0);
      co_await io::sleep(l, 5ms);
      REQUIRE(::kill(::getpid(), SIGUSR1) == 0);
    }(loop));
    const signalfd_siginfo first = io::sync_wait(loop, signals.next(loop));
    CHECK(first.ssi_signo == SIGWINCH);
    CHECK(first.ssi_pid == static_cast<std::uint32_t>(::getpid()));
    const signalfd_siginfo second = io::sync_wait(loop, signals.next(loop));
    CHECK(second.ssi_signo == SIGUSR1);
    CHECK_FALSE(signals.try_next().has_value());
  }
  // The previous mask is back.
  CHECK_FALSE(blocked(SIGUSR1));
  CHECK_FALSE(blocked(SIGWINCH));
}

TEST_CASE("a signal already pending is returned at once", "[io][signals]") {
  io::Loop loop;
  io::SignalSet signals{SIGUSR2};
  REQUIRE(::kill(::getpid(), SIGUSR2) == 0);
  CHECK(io::sync_wait(loop, signals.next(loop)).ssi_signo == SIGUSR2);
}

TEST_CASE("signals blocked before the set stay blocked after it", "[io][signals]") {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, SIGUSR2);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &one, nullptr) == 0);
  { io::SignalSet signals{SIGUSR2}; }
  CHECK(blocked(SIGUSR2));
  REQUIRE(::pthread_sigmask(SIG_UNBLOCK, &one, nullptr) == 0);
}
