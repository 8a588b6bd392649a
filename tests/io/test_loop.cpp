// The loop with pipes: round trips, many concurrent tasks, more operations than ring entries,
// errors of spawned tasks.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

namespace {

io::Task<std::string> read_some(io::Loop& loop, BorrowedFd fd) {
  std::array<char, 64> buffer{};
  const std::size_t n = co_await io::read(loop, fd, std::span<char>(buffer));
  co_return std::string(buffer.data(), n);
}

io::Task<std::string> read_to_end(io::Loop& loop, BorrowedFd fd) {
  std::string out;
  std::array<char, 4096> buffer{};
  for (;;) {
    const std::size_t n = co_await io::read(loop, fd, std::span<char>(buffer));
    if (n == 0) {
      co_return out;
    }
    out.append(buffer.data(), n);
  }
}

io::Task<std::string> round_trip(io::Loop& loop, std::string message) {
  Pipe p = make_pipe();
  co_await io::write_all(loop, p.write, message);
  co_return co_await read_some(loop, p.read);
}

// Echoes what arrives on `in` back on `out`, upper-cased, until end of file.
io::Task<void> echo_upper(io::Loop& loop, UniqueFd in, UniqueFd out) {
  std::array<char, 256> buffer{};
  for (;;) {
    const std::size_t n = co_await io::read(loop, in, std::span<char>(buffer));
    if (n == 0) {
      co_return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      buffer[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(buffer[i])));
    }
    co_await io::write_all(loop, out, std::string_view(buffer.data(), n));
  }
}

io::Task<void> fail_later(io::Loop& loop) {
  co_await io::sleep(loop, std::chrono::milliseconds(1));
  throw std::runtime_error("spawned task failed");
}

// Fails on its first resumption, so that two spawned together fail in the same batch.
io::Task<void> fail_at_once() {
  throw std::runtime_error("spawned task failed");
  co_return;
}

}  // namespace

TEST_CASE("a pipe round trip through the loop", "[io][loop]") {
  io::Loop loop;
  CHECK(io::sync_wait(loop, round_trip(loop, "hello")) == "hello");
  Pipe p = make_pipe();
  p.write.reset();
  CHECK(io::sync_wait(loop, read_some(loop, p.read)).empty());  // end of file
}

TEST_CASE("two tasks talk through pipes, one spawned", "[io][loop]") {
  io::Loop loop;
  Pipe to_echo = make_pipe();
  Pipe from_echo = make_pipe();
  loop.spawn(echo_upper(loop, std::move(to_echo.read), std::move(from_echo.write)));
  auto client = [](io::Loop& l, UniqueFd out, BorrowedFd in) -> io::Task<std::string> {
    co_await io::write_all(l, out, "round ");
    co_await io::write_all(l, out, "trip");
    out.reset();  // end of file for the echo task
    co_return co_await read_to_end(l, in);
  };
  CHECK(io::sync_wait(loop, client(loop, std::move(to_echo.write), from_echo.read)) ==
        "ROUND TRIP");
  loop.run();
  CHECK(loop.spawned_count() == 0);
  CHECK(loop.operations_in_flight() == 0);
}

TEST_CASE("write_all writes more than a pipe holds while a reader drains it", "[io][loop]") {
  io::Loop loop;
  Pipe p = make_pipe();
  const std::string big(1 << 20, 'x');
  loop.spawn([](io::Loop& l, UniqueFd out, const std::string& data) -> io::Task<void> {
    co_await io::write_all(l, out, data);
  }(loop, std::move(p.write), big));
  CHECK(io::sync_wait(loop, read_to_end(loop, p.read)) == big);
}

TEST_CASE("a thousand concurrent tasks each do a pipe round trip", "[io][loop]") {
  io::Loop loop;
  constexpr int kTasks = 1000;
  int finished = 0;
  // Half the pipes are written only after every reader is waiting, so all are in flight at once.
  std::vector<Pipe> pipes;
  pipes.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    pipes.push_back(make_pipe());
  }
  for (int i = 0; i < kTasks; ++i) {
    loop.spawn([](io::Loop& l, BorrowedFd in, int id, int& done) -> io::Task<void> {
      const std::string got = co_await read_some(l, in);
      CHECK(got == std::to_string(id));
      ++done;
    }(loop, pipes[i].read, i, finished));
  }
  loop.run_once(false);
  CHECK(loop.operations_in_flight() == kTasks);
  for (int i = 0; i < kTasks; ++i) {
    const std::string text = std::to_string(i);
    REQUIRE(::write(pipes[i].write.get(), text.data(), text.size()) ==
            static_cast<ssize_t>(text.size()));
  }
  loop.run();
  CHECK(finished == kTasks);
  CHECK(loop.spawned_count() == 0);
}

TEST_CASE("more operations in flight than the ring has entries", "[io][loop]") {
  io::LoopOptions options;
  options.entries = 8;
  io::Loop loop(options);
  constexpr int kPolls = 100;
  std::vector<Pipe> pipes;
  for (int i = 0; i < kPolls; ++i) {
    pipes.push_back(make_pipe());
  }
  int ready = 0;
  for (int i = 0; i < kPolls; ++i) {
    loop.spawn([](io::Loop& l, BorrowedFd fd, int& count) -> io::Task<void> {
      const unsigned events = co_await io::poll(l, fd, POLLIN);
      CHECK((events & POLLIN) != 0);
      ++count;
    }(loop, pipes[i].read, ready));
  }
  loop.run_once(false);
  CHECK(loop.operations_in_flight() == kPolls);
  CHECK(ready == 0);
  for (auto& p : pipes) {
    REQUIRE(::write(p.write.get(), "x", 1) == 1);
  }
  loop.run();
  CHECK(ready == kPolls);
}

TEST_CASE("the exception of a spawned task leaves run()", "[io][loop]") {
  io::Loop loop;
  loop.spawn(fail_later(loop));
  CHECK_THROWS_WITH(loop.run(), "spawned task failed");
  CHECK(loop.spawned_count() == 0);
  loop.run();  // still usable
}

TEST_CASE("sync_wait after two spawned tasks failed in one batch runs its own task", "[io][loop]") {
  io::Loop loop;
  loop.spawn(fail_at_once());
  loop.spawn(fail_at_once());
  CHECK_THROWS_WITH(loop.run(), "spawned task failed");
  // The second error leaves this sync_wait before its task ran; the loop must not keep the
  // destroyed task queued.
  CHECK_THROWS_WITH(io::sync_wait(loop, round_trip(loop, "late")), "spawned task failed");
  loop.run();
  CHECK(io::sync_wait(loop, round_trip(loop, "after")) == "after");
}

TEST_CASE("the exception of a spawned task can go to a handler instead", "[io][loop]") {
  std::vector<std::string> errors;
  io::LoopOptions options;
  options.on_spawn_error = [&errors](std::exception_ptr error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      errors.emplace_back(e.what());
    }
  };
  io::Loop loop(options);
  loop.spawn(fail_later(loop));
  loop.spawn(fail_later(loop));
  CHECK_NOTHROW(loop.run());
  CHECK(errors == std::vector<std::string>{"spawned task failed", "spawned task failed"});
}

TEST_CASE("read errors become gctool::Error with the errno", "[io][loop]") {
  io::Loop loop;
  auto bad_read = [](io::Loop& l) -> io::Task<std::size_t> {
    std::array<char, 8> buffer{};
    co_return co_await io::read(l, BorrowedFd(-1), std::span<char>(buffer));
  };
  try {
    io::sync_wait(loop, bad_read(loop));
    FAIL("no error");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == EBADF);
  }
}

TEST_CASE("sync_wait reports a task that waits for nothing the loop runs", "[io][loop]") {
  io::Loop loop;
  struct Never {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept {}
  };
  auto stuck = []() -> io::Task<void> { co_await Never{}; };
  CHECK_THROWS_AS(io::sync_wait(loop, stuck()), gctool::Error);
}

TEST_CASE("relay copies one descriptor into another until end of file", "[io][loop]") {
  io::Loop loop;
  Pipe in = make_pipe();
  Pipe out = make_pipe();
  const std::string text(200'000, 'r');
  loop.spawn([](io::Loop& l, UniqueFd w, const std::string& data) -> io::Task<void> {
    co_await io::write_all(l, w, data);
  }(loop, std::move(in.write), text));
  loop.spawn([](io::Loop& l, BorrowedFd from, UniqueFd to, std::size_t expected) -> io::Task<void> {
    const std::uint64_t copied = co_await io::relay(l, from, to);
    CHECK(copied == expected);
  }(loop, in.read, std::move(out.write), text.size()));
  CHECK(io::sync_wait(loop, read_to_end(loop, out.read)) == text);
}
