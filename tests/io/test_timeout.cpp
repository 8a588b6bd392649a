// Sleeping, and with_timeout() both when the limit expires and when the work finishes first.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include <gctool/core/fd.hpp>
#include <gctool/core/pipe.hpp>
#include <gctool/io/rw.hpp>
#include <gctool/io/sleep.hpp>
#include <gctool/io/sync_wait.hpp>
#include <gctool/io/timeout.hpp>

namespace io = gctool::io;
using gctool::BorrowedFd;
using gctool::make_pipe;
using gctool::Pipe;
using gctool::UniqueFd;
using namespace std::chrono_literals;

namespace {

io::Task<std::string> read_bounded(io::Loop& loop, BorrowedFd fd, std::chrono::nanoseconds limit) {
  std::array<char, 32> buffer{};
  const std::size_t n =
      co_await io::with_timeout(loop, io::read(loop, fd, std::span<char>(buffer)), limit);
  co_return std::string(buffer.data(), n);
}

io::Task<int> sleepy_value(io::Loop& loop, std::chrono::nanoseconds delay, int value) {
  co_await io::sleep(loop, delay);
  co_return value;
}

}  // namespace

TEST_CASE("sleeping tasks wake in the order of their durations", "[io][timeout]") {
  io::Loop loop;
  std::vector<int> order;
  auto sleeper = [](io::Loop& l, std::chrono::milliseconds d, int id,
                    std::vector<int>& out) -> io::Task<void> {
    co_await io::sleep(l, d);
    out.push_back(id);
  };
  loop.spawn(sleeper(loop, 200ms, 3, order));
  loop.spawn(sleeper(loop, 1ms, 1, order));
  loop.spawn(sleeper(loop, 50ms, 2, order));
  loop.run();
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("a timeout fires on a read that gets no data, and the pipe stays intact",
          "[io][timeout]") {
  io::Loop loop;
  Pipe p = make_pipe();
  try {
    io::sync_wait(loop, read_bounded(loop, p.read, 20ms));
    FAIL("no timeout");
  } catch (const io::TimedOut& e) {
    CHECK(e.errno_value() == ETIMEDOUT);
    CHECK(std::string(e.what()) == "operation timed out after 20ms");
  }
  CHECK(loop.operations_in_flight() == 0);
  // The cancelled read consumed nothing: the next one gets all the data.
  REQUIRE(::write(p.write.get(), "after", 5) == 5);
  CHECK(io::sync_wait(loop, read_bounded(loop, p.read, 10s)) == "after");
}

TEST_CASE("a timeout is cancelled when the operation completes first", "[io][timeout]") {
  io::Loop loop;
  Pipe p = make_pipe();
  REQUIRE(::write(p.write.get(), "data", 4) == 4);
  // An hour-long timer left behind would keep run() from returning.
  CHECK(io::sync_wait(loop, read_bounded(loop, p.read, std::chrono::hours(1))) == "data");
  loop.run();
  CHECK(loop.operations_in_flight() == 0);
}

TEST_CASE("with_timeout bounds a task", "[io][timeout]") {
  io::Loop loop;
  CHECK(io::sync_wait(loop, io::with_timeout(loop, sleepy_value(loop, 1ms, 5), 1h)) == 5);
  CHECK_THROWS_AS(io::sync_wait(loop, io::with_timeout(loop, sleepy_value(loop, 1h, 5), 10ms)),
                  io::TimedOut);
  auto void_task = [](io::Loop& l) -> io::Task<void> { co_await io::sleep(l, 1ms); };
  CHECK_NOTHROW(io::sync_wait(loop, io::with_timeout(loop, void_task(loop), 1h)));
  loop.run();
  CHECK(loop.operations_in_flight() == 0);
}

TEST_CASE("the inner of two nested timeouts does not claim the outer one's expiry",
          "[io][timeout]") {
  io::Loop loop;
  auto inner = [](io::Loop& l) -> io::Task<int> {
    try {
      co_return co_await io::with_timeout(l, sleepy_value(l, 1h, 1), 1h);
    } catch (const io::TimedOut&) {
      FAIL("the inner timeout did not expire");
    } catch (const gctool::Cancelled&) {
      throw;  // expected: cancelled from outside
    }
    co_return 0;
  };
  CHECK_THROWS_AS(io::sync_wait(loop, io::with_timeout(loop, inner(loop), 10ms)), io::TimedOut);
  loop.run();
  CHECK(loop.operations_in_flight() == 0);
}

TEST_CASE("work after a timeout inside the same task runs normally", "[io][timeout]") {
  io::Loop loop;
  auto task = [](io::Loop& l) -> io::Task<int> {
    bool timed_out = false;
    try {
      co_await io::with_timeout(l, io::sleep(l, 1h), 5ms);
    } catch (const io::TimedOut&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_return co_await sleepy_value(l, 1ms, 9);
  };
  CHECK(io::sync_wait(loop, task(loop)) == 9);
}
