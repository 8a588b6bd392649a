// Awaiting child processes through pidfds, with IORING_OP_WAITID and with the poll fallback.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include <gctool/core/fd.hpp>
#include <gctool/io/process.hpp>
#include <gctool/io/sync_wait.hpp>
#include <gctool/io/timeout.hpp>

namespace io = gctool::io;
using gctool::UniqueFd;
using namespace std::chrono_literals;

namespace {

struct Child {
  pid_t pid;
  UniqueFd pidfd;
};

// Forks a child that runs body() and exits with its return value.
template <typename Body>
Child fork_child(Body body) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::_exit(body());
  }
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  REQUIRE(fd >= 0);
  return Child{pid, UniqueFd(fd)};
}

io::LoopOptions options_for(bool fallback) {
  io::LoopOptions options;
  options.force_waitid_fallback = fallback;
  return options;
}

}  // namespace

TEST_CASE("the exit status of a child", "[io][process]") {
  const bool fallback = GENERATE(false, true);
  CAPTURE(fallback);
  io::Loop loop(options_for(fallback));
  if (fallback) {
    CHECK_FALSE(loop.has_waitid());
  } else if (!loop.has_waitid()) {
    WARN("this kernel lacks IORING_OP_WAITID: only the fallback is exercised");
  }
  Child child = fork_child([] { return 7; });
  const siginfo_t info = io::sync_wait(loop, io::wait_exit(loop, child.pidfd));
  CHECK(info.si_pid == child.pid);
  CHECK(info.si_code == CLD_EXITED);
  CHECK(info.si_status == 7);
  CHECK(io::exit_code(info) == 7);
  // Reaped: no zombie is left.
  CHECK(::waitpid(child.pid, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("a child killed by a signal", "[io][process]") {
  const bool fallback = GENERATE(false, true);
  CAPTURE(fallback);
  io::Loop loop(options_for(fallback));
  Child child = fork_child([] {
    ::signal(SIGTERM, SIG_DFL);  // not the test framework's handler
    ::pause();
    return 0;
  });
  auto kill_then_wait = [](io::Loop& l, const Child& c) -> io::Task<siginfo_t> {
    // Still running: a bounded wait times out and cancels the pending wait.
    bool timed_out = false;
    try {
      co_await io::with_timeout(l, io::wait_exit(l, c.pidfd), 20ms);
    } catch (const io::TimedOut&) {
      timed_out = true;
    }
    CHECK(timed_out);
    REQUIRE(::kill(c.pid, SIGTERM) == 0);
    co_return co_await io::wait_exit(l, c.pidfd);
  };
  const siginfo_t info = io::sync_wait(loop, kill_then_wait(loop, child));
  CHECK(info.si_pid == child.pid);
  CHECK(info.si_code == CLD_KILLED);
  CHECK(info.si_status == SIGTERM);
  CHECK(io::exit_code(info) == 128 + SIGTERM);
}

TEST_CASE("many children exiting concurrently are all observed", "[io][process]") {
  const bool fallback = GENERATE(false, true);
  CAPTURE(fallback);
  io::Loop loop(options_for(fallback));
  constexpr int kChildren = 20;
  int seen = 0;
  std::vector<Child> children;
  children.reserve(kChildren);  // the tasks hold references to the elements
  for (int i = 0; i < kChildren; ++i) {
    children.push_back(fork_child([i] { return i; }));
    loop.spawn([](io::Loop& l, const Child& c, int expected, int& count) -> io::Task<void> {
      const siginfo_t info = co_await io::wait_exit(l, c.pidfd);
      CHECK(info.si_status == expected);
      ++count;
    }(loop, children.back(), i, seen));
  }
  loop.run();
  CHECK(seen == kChildren);
}
