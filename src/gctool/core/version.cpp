// The version the library was built as; most of gctool lives in headers.
#include "gctool/core/version.hpp"

namespace gctool {

const char* library_version() noexcept {
  return GCTOOL_VERSION;
}

}  // namespace gctool
