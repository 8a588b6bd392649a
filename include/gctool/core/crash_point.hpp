// Named steps of multi-step changes at which a test can make gctool die, to check that the next
// command completes or rolls back what was cut short (docs/crash-points.md).
//
// With GCTOOL_TEST_CRASH_AT=<step> in its environment, a gctool process that reaches
// crash_point(<step>) sends itself SIGKILL there. The variable is read from the environment of
// the gctool process on the host (and the supervisors it forks), which nothing inside a container
// can set; a container's command never sees it, since its environment is built from the spec.
#pragma once

#include <signal.h>

#include <cstdlib>
#include <string_view>

namespace gctool {

// SIGKILLs the calling process when GCTOOL_TEST_CRASH_AT names step; nothing otherwise.
void crash_point(std::string_view step) noexcept;

// The definitions of crash_point: header-only, as all of gctool::core.
inline void crash_point(std::string_view step) noexcept {
  const char* wanted = std::getenv("GCTOOL_TEST_CRASH_AT");
  if (wanted != nullptr && step == wanted) {
    ::raise(SIGKILL);
  }
}

}  // namespace gctool
