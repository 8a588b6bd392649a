// A program built against an installed gctool: reads "hello" from a pipe through the loop, and
// uses the core headers (units, durations, ids, atomic files and locks), which link nothing: built
// with gctool::io alone, this fails to link if any of them needs a compiled part.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>

#include <gctool/core/atomic_file.hpp>
#include <gctool/core/fd.hpp>
#include <gctool/core/file_lock.hpp>
#include <gctool/core/file_util.hpp>
#include <gctool/core/ids.hpp>
#include <gctool/core/time.hpp>
#include <gctool/core/units.hpp>
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

// "64m", "1m30s", a random id, and a file written atomically under its lock and read back.
bool core_works() {
  char dir_template[] = "/tmp/gctool-consumer-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    return false;
  }
  const std::filesystem::path dir(dir_template);
  bool ok = gctool::parse_memory_size("64m") == 64 << 20 &&
            gctool::parse_duration("1m30s") == std::chrono::seconds(90) &&
            gctool::valid_id(gctool::random_id());
  {
    const auto lock = gctool::FileLock::exclusive(dir / "lock");
    gctool::write_file_atomic(dir / "file", "core");
    ok = ok && gctool::read_file(dir / "file") == "core";
  }
  std::filesystem::remove_all(dir);
  return ok;
}

int main() {
  gctool::io::Loop loop;
  const std::string text = gctool::io::sync_wait(loop, round_trip(loop));
  const bool core = core_works();
  std::printf("read through gctool's loop: %s; core: %s\n", text.c_str(), core ? "ok" : "failed");
  return text == "hello" && core ? 0 : 1;
}
