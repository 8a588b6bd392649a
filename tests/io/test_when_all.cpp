// when_all and when_any over pipe reads: values in order, one cancellation reaching every task,
// a failure or a first result cancelling the others.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <gctool/core/fd.hpp>
#include <gctool/core/pipe.hpp>
#include <gctool/io/rw.hpp>
#include <gctool/io/sync_wait.hpp>
#include <gctool/io/timeout.hpp>
#include <gctool/io/when_all.hpp>

namespace io = gctool::io;
using gctool::BorrowedFd;
using gctool::Pipe;
using namespace std::chrono_literals;

namespace {

struct ReadOutcome {
  bool cancelled = false;
  std::string data;
};

// Reads once from fd; records whether the read was cancelled, and lets Cancelled go on.
io::Task<std::string> read_once(io::Loop& loop, BorrowedFd fd, ReadOutcome& outcome) {
  std::array<char, 64> buffer{};
  try {
    const std::size_t n = co_await io::read(loop, fd, std::span<char>(buffer));
    outcome.data.assign(buffer.data(), n);
    co_return outcome.data;
  } catch (const gctool::Cancelled&) {
    outcome.cancelled = true;
    throw;
  }
}

io::Task<std::string> fail_after_read(io::Loop& loop, BorrowedFd fd) {
  std::array<char, 8> buffer{};
  co_await io::read(loop, fd, std::span<char>(buffer));
  throw std::runtime_error("member failed");
}

struct Pipes {
  std::array<Pipe, 3> pipes{gctool::make_pipe(), gctool::make_pipe(), gctool::make_pipe()};
  std::array<ReadOutcome, 3> outcomes;

  std::vector<io::Task<std::string>> reads(io::Loop& loop) {
    std::vector<io::Task<std::string>> tasks;
    for (std::size_t i = 0; i < pipes.size(); ++i) {
      tasks.push_back(read_once(loop, pipes[i].read, outcomes[i]));
    }
    return tasks;
  }
  void write_all() {
    for (std::size_t i = 0; i < pipes.size(); ++i) {
      const std::string text = "data " + std::to_string(i);
      REQUIRE(::write(pipes[i].write.get(), text.data(), text.size()) ==
              static_cast<ssize_t>(text.size()));
    }
  }
};

}  // namespace

TEST_CASE("when_all returns the values of all tasks in order", "[io][when_all]") {
  io::Loop loop;
  Pipes p;
  p.write_all();
  CHECK(io::sync_wait(loop, io::when_all(p.reads(loop))) ==
        std::vector<std::string>{"data 0", "data 1", "data 2"});
}

TEST_CASE("cancelling a when_all of three pending reads cancels all three", "[io][when_all]") {
  io::Loop loop;
  Pipes p;
  bool cancelled = false;
  auto run = [](io::Loop& l, Pipes& pipes, bool& saw_cancel) -> io::Task<void> {
    try {
      co_await io::when_all(pipes.reads(l));
    } catch (const gctool::Cancelled&) {
      saw_cancel = true;
    }
  };
  const io::SpawnId id = loop.spawn(run(loop, p, cancelled));
  loop.run_once(false);
  loop.run_once(false);
  REQUIRE(loop.operations_in_flight() == 3);
  loop.cancel(id);
  loop.run_once(false);
  // A read that the cancellation missed would take this data.
  p.write_all();
  loop.run();
  CHECK(cancelled);
  for (const ReadOutcome& outcome : p.outcomes) {
    CHECK(outcome.cancelled);
    CHECK(outcome.data.empty());
  }
}

TEST_CASE("a failing task cancels the others of its when_all and its error leaves",
          "[io][when_all]") {
  io::Loop loop;
  Pipes p;
  std::vector<io::Task<std::string>> tasks = p.reads(loop);
  Pipe trigger = gctool::make_pipe();
  tasks.push_back(fail_after_read(loop, trigger.read));
  REQUIRE(::write(trigger.write.get(), "x", 1) == 1);
  CHECK_THROWS_WITH(io::sync_wait(loop, io::when_all(std::move(tasks))), "member failed");
  for (const ReadOutcome& outcome : p.outcomes) {
    CHECK(outcome.cancelled);
  }
  CHECK(loop.operations_in_flight() == 0);
}

TEST_CASE("when_any returns the first task to finish and cancels the others", "[io][when_all]") {
  io::Loop loop;
  Pipes p;
  REQUIRE(::write(p.pipes[1].write.get(), "second", 6) == 6);
  const io::FirstDone<std::string> first = io::sync_wait(loop, io::when_any(p.reads(loop)));
  CHECK(first.index == 1);
  CHECK(first.value == "second");
  CHECK(p.outcomes[0].cancelled);
  CHECK(p.outcomes[2].cancelled);
  CHECK(loop.operations_in_flight() == 0);
}

TEST_CASE("a timeout around a when_all cancels every task", "[io][when_all]") {
  io::Loop loop;
  Pipes p;
  CHECK_THROWS_AS(io::sync_wait(loop, io::with_timeout(loop, io::when_all(p.reads(loop)), 10ms)),
                  io::TimedOut);
  for (const ReadOutcome& outcome : p.outcomes) {
    CHECK(outcome.cancelled);
  }
}
