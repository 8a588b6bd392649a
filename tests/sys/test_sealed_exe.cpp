// The sealed copies of the running executable: the same bytes, executable, and no way to write
// them through the fd (or /proc/self/fd/N, as a container process would try).
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "gctool/core/file_util.hpp"
#include "gctool/sys/sealed_exe.hpp"
#include "test_support.hpp"

using gctool::UniqueFd;
using gctool::sys::SealMethod;

TEST_CASE("a sealed copy of the executable cannot be written", "[root][security]") {
  const std::string original = gctool::read_file("/proc/self/exe");
  for (const auto method : {SealMethod::overlay, SealMethod::memfd}) {
    INFO((method == SealMethod::overlay ? "overlay" : "memfd"));
    const UniqueFd sealed = gctool::sys::seal_self_exe(method);
    CHECK(gctool::sys::is_sealed_executable(sealed.borrow()));
    const std::string path = "/proc/self/fd/" + std::to_string(sealed.get());
    CHECK(gctool::read_file(path) == original);
    CHECK(::access(path.c_str(), X_OK) == 0);
    const UniqueFd writable(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (writable.valid()) {
      // A memfd opens for writing; the seal refuses the write itself.
      CHECK(::pwrite(writable.get(), "x", 1, 0) < 0);
      CHECK(errno == EPERM);
    } else {
      CHECK(errno == EROFS);
    }
    CHECK(::truncate(path.c_str(), 0) != 0);
    CHECK(gctool::read_file(path) == original);
  }
  // The test binary itself runs from an ordinary file.
  CHECK_FALSE(gctool::sys::self_exe_sealed());
}
