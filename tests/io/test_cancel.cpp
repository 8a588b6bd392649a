// Cancelling pending operations: through Loop::cancel(), before they start, and by destroying the
// coroutine (or the loop) while the kernel still holds the buffer.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <gctool/core/fd.hpp>
#include <gctool/core/pipe.hpp>
#include <gctool/io/poll.hpp>
#include <gctool/io/rw.hpp>
#include <gctool/io/sleep.hpp>
#include <gctool/io/sync_wait.hpp>

namespace io = gctool::io;
using gctool::BorrowedFd;
using gctool::make_pipe;
using gctool::Pipe;
using gctool::UniqueFd;
using namespace std::chrono_literals;

namespace {

struct Outcome {
  bool cancelled = false;
  bool finished = false;
  std::size_t bytes = 0;
};

// Reads into a heap buffer whose contents the test inspects afterwards.
io::Task<void> read_into(io::Loop& loop, BorrowedFd fd, std::shared_ptr<std::array<char, 16>> buf,
                         Outcome& outcome) {
  try {
    outcome.bytes = co_await io::read(loop, fd, std::span<char>(*buf));
  } catch (const gctool::Cancelled&) {
    outcome.cancelled = true;
  }
  outcome.finished = true;
}

std::string drain(BorrowedFd fd) {
  std::array<char, 64> buffer{};
  const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
  REQUIRE(n >= 0);
  return std::string(buffer.data(), static_cast<std::size_t>(n));
}

}  // namespace

TEST_CASE("cancelling a pending read: Cancelled is observed and the buffer is untouched",
          "[io][cancel]") {
  io::Loop loop;
  Pipe p = make_pipe();
  auto buffer = std::make_shared<std::array<char, 16>>();
  buffer->fill('.');
  Outcome outcome;
  const io::SpawnId id = loop.spawn(read_into(loop, p.read, buffer, outcome));
  loop.run_once(false);
  REQUIRE(loop.operations_in_flight() == 1);
  CHECK(loop.cancel(id));
  loop.run();
  CHECK(outcome.cancelled);
  CHECK(outcome.finished);
  CHECK(loop.spawned_count() == 0);
  CHECK_FALSE(loop.cancel(id));
  // Data written afterwards was not consumed by the cancelled read.
  REQUIRE(::write(p.write.get(), "later", 5) == 5);
  CHECK(drain(p.read) == "later");
  CHECK(std::string(buffer->data(), buffer->size()) == std::string(16, '.'));
}

TEST_CASE("a task cancelled before it starts never submits its operation", "[io][cancel]") {
  io::Loop loop;
  Pipe p = make_pipe();
  auto buffer = std::make_shared<std::array<char, 16>>();
  Outcome outcome;
  const io::SpawnId id = loop.spawn(read_into(loop, p.read, buffer, outcome));
  loop.cancel(id);
  loop.run();
  CHECK(outcome.cancelled);
  CHECK(loop.operations_in_flight() == 0);
}

TEST_CASE("cancel_all stops every spawned task", "[io][cancel]") {
  io::Loop loop;
  int cancelled = 0;
  for (int i = 0; i < 10; ++i) {
    loop.spawn([](io::Loop& l, int& count) -> io::Task<void> {
      try {
        co_await io::sleep(l, 1h);
      } catch (const gctool::Cancelled&) {
        ++count;
      }
    }(loop, cancelled));
  }
  loop.run_once(false);
  loop.cancel_all();
  loop.run();
  CHECK(cancelled == 10);
}

TEST_CASE("destroying a task suspended in a read cancels it before the buffer goes away",
          "[io][cancel]") {
  io::Loop loop;
  Pipe p = make_pipe();
  auto buffer = std::make_shared<std::array<char, 16>>();
  buffer->fill('.');
  Outcome outcome;
  {
    // The parent awaits the reader; destroying the parent destroys the reader's frame.
    auto parent = [](io::Task<void> child) -> io::Task<void> { co_await std::move(child); };
    io::Task<void> task = parent(read_into(loop, p.read, buffer, outcome));
    loop.post(task.handle());
    loop.run_once(false);
    REQUIRE(loop.operations_in_flight() == 1);
  }
  CHECK(loop.operations_in_flight() == 0);
  CHECK_FALSE(outcome.finished);
  REQUIRE(::write(p.write.get(), "kept", 4) == 4);
  loop.run();
  CHECK(drain(p.read) == "kept");
  CHECK(std::string(buffer->data(), buffer->size()) == std::string(16, '.'));
}

TEST_CASE("destroying the loop with pending operations cancels them", "[io][cancel]") {
  Pipe p = make_pipe();
  auto buffer = std::make_shared<std::array<char, 16>>();
  buffer->fill('.');
  Outcome outcome;
  {
    io::Loop loop;
    loop.spawn(read_into(loop, p.read, buffer, outcome));
    loop.spawn([](io::Loop& l, BorrowedFd fd) -> io::Task<void> {
      co_await io::poll(l, fd, POLLIN);
    }(loop, p.read));
    loop.spawn([](io::Loop& l) -> io::Task<void> { co_await io::sleep(l, 1h); }(loop));
    loop.run_once(false);
    REQUIRE(loop.operations_in_flight() == 3);
  }
  CHECK_FALSE(outcome.finished);
  REQUIRE(::write(p.write.get(), "kept", 4) == 4);
  CHECK(drain(p.read) == "kept");
  CHECK(buffer.use_count() == 1);  // the frame holding a reference is gone
  CHECK(std::string(buffer->data(), buffer->size()) == std::string(16, '.'));
}

TEST_CASE("a read whose end cannot be awaited when its task goes away stops the process",
          "[io][cancel]") {
  Pipe p = make_pipe();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // No Catch assertions in the child: it reports through its exit status. No core file.
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::signal(SIGABRT, SIG_DFL);  // not Catch's handler, which would report a failed test here
    io::Loop loop;
    auto buffer = std::make_shared<std::array<char, 16>>();
    Outcome outcome;
    std::optional<io::Task<void>> task(read_into(loop, p.read, buffer, outcome));
    loop.post(task->handle());
    loop.run_once(false);
    loop.run_once(false);  // the read is now in the kernel
    // io_uring_enter fails from now on (EBADF): the ring's mappings keep the read alive.
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      if (std::filesystem::read_symlink(entry.path(), ec).string() == "anon_inode:[io_uring]") {
        ::close(std::stoi(entry.path().filename().string()));
      }
    }
    task.reset();  // must not return while the kernel may still write into the buffer
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
}
