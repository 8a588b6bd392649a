// Paths inside a container root resolved inside it (openat2 RESOLVE_IN_ROOT, or a walk that
// follows each symlink as a path inside the root): a symlink in an image (/etc -> /host/etc,
// ../../..) can never lead a mount or a write outside the root.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "gctool/core/fd.hpp"

namespace gctool::fs {

// Opens path (absolute or relative, taken as inside root) with openat2 RESOLVE_IN_ROOT; flags get
// O_CLOEXEC added.
UniqueFd open_in_root(BorrowedFd root, std::string_view path, int flags, mode_t mode = 0);

// path with every symlink followed as a path inside root ("/x" and "../.." stop at root), as
// securejoin does: the result is relative to root, with no "..", "." or symlink in the part
// that exists; the components that do not exist (yet) are kept as written. Symlinks of procfs
// (/proc/self/fd/N, /proc/1/root) are magic: resolving through one is refused (ELOOP).
std::string resolve_in_root(BorrowedFd root, std::string_view path);

// Creates the directory path and its missing parents inside root (like mkdir -p, following
// symlinks only within root) and returns an O_PATH fd to it.
UniqueFd mkdir_all_in_root(BorrowedFd root, std::string_view path, mode_t mode = 0755);

// Creates an empty regular file at path inside root when it does not exist (parents too) and
// returns an fd to whatever is there: a mount point for a file bind mount. A symlink at path
// (/etc/resolv.conf -> ../run/resolv.conf, or -> /etc/host-file) is followed inside root, and
// its missing target is created there.
UniqueFd touch_in_root(BorrowedFd root, std::string_view path, mode_t mode = 0644);

// The content of the regular file at path inside root (resolved as open_in_root does); nullopt
// when nothing is there. Anything else, which could block the reader forever or never end (a
// FIFO, a device such as /dev/zero, a socket, a directory), and a file larger than max_size are
// refused with an invalid-input Error that names path.
std::optional<std::string> read_regular_file_in_root(BorrowedFd root, std::string_view path,
                                                     std::size_t max_size);

// "/proc/self/fd/N": a path naming what fd refers to, for mount(2) and friends.
std::string fd_path(BorrowedFd fd);

}  // namespace gctool::fs
