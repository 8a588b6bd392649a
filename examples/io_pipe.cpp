// The io layer in a few lines: a spawned producer writes lines into a pipe, the main task reads
// them until end of file, and a read that nobody feeds is bounded by with_timeout().
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>

#include <fmt/format.h>

#include <gctool/io/io.hpp>

namespace io = gctool::io;
using namespace std::chrono_literals;

namespace {

io::Task<void> produce(io::Loop& loop, gctool::UniqueFd out) {
  for (int i = 1; i <= 3; ++i) {
    co_await io::write_all(loop, out, fmt::format("line {}\n", i));
    co_await io::sleep(loop, 10ms);
  }
}  // `out` closes here: the reader sees end of file

io::Task<std::string> consume(io::Loop& loop, gctool::BorrowedFd in) {
  std::string text;
  std::array<char, 256> buffer{};
  for (;;) {
    const std::size_t n = co_await io::read(loop, in, std::span<char>(buffer));
    if (n == 0) {
      co_return text;
    }
    text.append(buffer.data(), n);
  }
}

io::Task<void> bounded_read(io::Loop& loop, gctool::BorrowedFd in) {
  std::array<char, 16> buffer{};
  try {
    co_await io::with_timeout(loop, io::read(loop, in, std::span<char>(buffer)), 50ms);
  } catch (const io::TimedOut& e) {
    fmt::print("bounded read: {}\n", e.what());
  }
}

gctool::UniqueFd pipe_end(int fd) {
  return gctool::UniqueFd(fd);
}

}  // namespace

int main() {
  io::Loop loop;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return 1;
  }
  gctool::UniqueFd in = pipe_end(fds[0]);
  loop.spawn(produce(loop, pipe_end(fds[1])));
  fmt::print("{}", io::sync_wait(loop, consume(loop, in)));

  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return 1;
  }
  gctool::UniqueFd idle_in = pipe_end(fds[0]);
  gctool::UniqueFd idle_out = pipe_end(fds[1]);
  io::sync_wait(loop, bounded_read(loop, idle_in));
  return 0;
}
