#include "gctool/core/crash_point.hpp"

#include <signal.h>

#include <cstdlib>

namespace gctool {

void crash_point(std::string_view step) noexcept {
  const char* wanted = std::getenv("GCTOOL_TEST_CRASH_AT");
  if (wanted != nullptr && step == wanted) {
    ::raise(SIGKILL);
  }
}

}  // namespace gctool
