// Running from a sealed copy of our own executable (the CVE-2019-5736 class). A container's init
// and an exec'd process are clones of the gctool process until their final execve, so their
// /proc/self/exe is gctool's executable: a command whose interpreter is `#!/proc/self/exe` runs it
// again inside the container, where a fake ELF interpreter of the image could open it for writing
// and overwrite the host's binary. A process that starts container processes first re-executes
// itself from a copy that can never be written: a file of a private read-only overlayfs whose only
// layers are the executable's directory and an empty tmpfs (no copy, no upper layer to write to),
// or, where that cannot be mounted, a memfd copy sealed against writes.
#pragma once

#include <filesystem>

#include "gctool/core/fd.hpp"

namespace gctool::sys {

enum class SealMethod {
  overlay,  // a file of a read-only overlayfs over the executable's directory (Linux 6.8+)
  memfd,    // a copy in a memfd with F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_WRITE
};

// Whether fd (an executable) can never be written through any path: a memfd with the write seals,
// or a file of a read-only overlayfs.
bool is_sealed_executable(BorrowedFd fd);

// Whether this process runs from such a file.
bool self_exe_sealed();

// A sealed copy of the running executable, for execveat(fd, "", ..., AT_EMPTY_PATH): an O_PATH
// fd for the overlay, the memfd otherwise. Throws when the method cannot be used.
UniqueFd seal_self_exe(SealMethod method);

// Call first thing in main() of a program about to start container processes (no thread, no
// state worth keeping). When this process does not run from a sealed copy yet, re-executes the
// program from one (the overlay, or the memfd when that fails) with the same argv and environment,
// and does not return; otherwise it returns. Throws when no sealed copy can be made or executed.
void reexec_sealed(char** argv);

// The executable this process was started from: the host's file, even after reexec_sealed()
// (where /proc/self/exe names the sealed copy). Programs to run next to it are found from here.
std::filesystem::path host_executable();

}  // namespace gctool::sys
