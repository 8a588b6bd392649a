// Task<T> on its own: laziness, values, exceptions through several levels, deep synchronous chains.
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>

#include <gctool/io/loop.hpp>
#include <gctool/io/sync_wait.hpp>
#include <gctool/io/task.hpp>

namespace io = gctool::io;

namespace {

io::Task<int> answer() {
  co_return 42;
}

io::Task<std::string> greet(std::string name) {
  co_return "hello " + name;
}

io::Task<int> level3() {
  throw std::runtime_error("from level 3");
  co_return 3;
}

io::Task<int> level2() {
  const int v = co_await level3();
  co_return v + 1;
}

io::Task<void> level1() {
  const int v = co_await level2();
  (void)v;
}

io::Task<std::uint64_t> chain(std::uint64_t depth) {
  if (depth == 0) {
    co_return 0;
  }
  const std::uint64_t below = co_await chain(depth - 1);
  co_return below + 1;
}

io::Task<std::unique_ptr<int>> move_only() {
  co_return std::make_unique<int>(7);
}

}  // namespace

TEST_CASE("a task does not run until awaited", "[io][task]") {
  bool ran = false;
  auto make = [&ran]() -> io::Task<void> {
    ran = true;
    co_return;
  };
  io::Loop loop;
  {
    io::Task<void> task = make();
    CHECK_FALSE(ran);
    CHECK(task.valid());
    CHECK_FALSE(task.done());
  }
  CHECK_FALSE(ran);
  io::sync_wait(loop, make());
  CHECK(ran);
}

TEST_CASE("sync_wait returns the value of a task", "[io][task]") {
  io::Loop loop;
  CHECK(io::sync_wait(loop, answer()) == 42);
  CHECK(io::sync_wait(loop, greet("world")) == "hello world");
  CHECK(*io::sync_wait(loop, move_only()) == 7);
}

TEST_CASE("an exception crosses three levels of tasks", "[io][task]") {
  io::Loop loop;
  CHECK_THROWS_WITH(io::sync_wait(loop, level1()), "from level 3");
  // The loop is still usable afterwards.
  CHECK(io::sync_wait(loop, answer()) == 42);
}

TEST_CASE("a task moved from is empty and a moved task still runs", "[io][task]") {
  io::Loop loop;
  io::Task<int> a = answer();
  io::Task<int> b = std::move(a);
  CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
  CHECK(io::sync_wait(loop, std::move(b)) == 42);
}

TEST_CASE("a chain of a million tasks completing synchronously does not grow the stack",
          "[io][task]") {
  io::Loop loop;
  CHECK(io::sync_wait(loop, chain(1'000'000)) == 1'000'000);
}
