#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/scope_exit.hpp"

using gctool::BorrowedFd;
using gctool::UniqueFd;

namespace {
bool fd_open(int fd) {
  return ::fcntl(fd, F_GETFD) >= 0;
}
}  // namespace

TEST_CASE("UniqueFd closes on destruction and moves ownership", "[core]") {
  int raw = -1;
  {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw = fd.get();
    REQUIRE(fd_open(raw));
    UniqueFd moved = std::move(fd);
    CHECK_FALSE(fd.valid());
    CHECK(moved.get() == raw);
    BorrowedFd view = moved;
    CHECK(view.get() == raw);
  }
  CHECK_FALSE(fd_open(raw));
}

TEST_CASE("UniqueFd::release gives up ownership and reset preserves errno", "[core]") {
  UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = fd.release();
  CHECK_FALSE(fd.valid());
  CHECK(fd_open(raw));
  UniqueFd again(raw);
  errno = ENOSPC;
  again.reset();
  CHECK(errno == ENOSPC);
  CHECK_FALSE(fd_open(raw));
}

TEST_CASE("Error carries errno and context", "[core]") {
  errno = 0;
  try {
    gctool::check(::open("/nonexistent/x", O_RDONLY), "open \"{}\"", "/nonexistent/x");
    FAIL("no throw");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOENT);
    CHECK(std::string(e.what()) == "open \"/nonexistent/x\": No such file or directory");
    CHECK(e.code() == std::errc::no_such_file_or_directory);
  }
  const auto bad = gctool::Error::invalid("invalid memory size \"abc\"");
  CHECK(std::string(bad.what()) == "invalid memory size \"abc\"");
  CHECK(bad.errno_value() == EINVAL);
}

TEST_CASE("ScopeExit runs unless released", "[core]") {
  int runs = 0;
  {
    gctool::ScopeExit guard([&] { ++runs; });
  }
  {
    gctool::ScopeExit guard([&] { ++runs; });
    guard.release();
  }
  CHECK(runs == 1);
}
