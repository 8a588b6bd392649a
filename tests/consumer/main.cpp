// A program built against an installed gctool: reads "hello" from a pipe through the loop.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <span>
#include <string>

#include <gctool/core/fd.hpp>
#include <gctool/io/rw.hpp>
#include <gctool/io/sync_wait.hpp>

namespace {

gctool::io::Task<std::string> read_greeting(gctool::io::Loop& loop, gctool::BorrowedFd fd) {
  std::array<char, 16> buffer{};
  const std::size_t n = co_await gctool::io::read(loop, fd, std::span<char>(buffer));
  co_return std::string(buffer.data(), n);
}

gctool::io::Task<std::string> round_trip(gctool::io::Loop& loop) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw gctool::Error(errno, "pipe2");
  }
  gctool::UniqueFd in(fds[0]);
  gctool::UniqueFd out(fds[1]);
  co_await gctool::io::write_all(loop, out, "hello");
  co_return co_await read_greeting(loop, in);
}

}  // namespace

int main() {
  gctool::io::Loop loop;
  const std::string text = gctool::io::sync_wait(loop, round_trip(loop));
  std::printf("read through gctool's loop: %s\n", text.c_str());
  return text == "hello" ? 0 : 1;
}
