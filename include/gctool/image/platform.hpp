// The platform images are selected and created for: Linux on the machine we run on.
#pragma once

#include <sys/utsname.h>

#include <string>

namespace gctool::image {

// The OCI/Go name of the host's CPU architecture: "amd64", "arm64", else uname's machine.
inline std::string host_architecture() {
  utsname u{};
  ::uname(&u);
  const std::string machine = u.machine;
  if (machine == "x86_64") {
    return "amd64";
  }
  if (machine == "aarch64") {
    return "arm64";
  }
  return machine;
}

}  // namespace gctool::image
