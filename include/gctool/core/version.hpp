// The version of the gctool library in use.
#pragma once

namespace gctool {

const char* library_version() noexcept;

}  // namespace gctool
