// Copying a directory's contents between two directory fds without ever following a symlink: how
// a new named volume is filled from the image's content at its mount point, as Docker does.
#pragma once

#include "gctool/core/fd.hpp"

namespace gctool::fs {

// Whether the directory (an fd opened for reading) has no entries.
bool directory_empty(BorrowedFd dir);

// Copies what is in directory `from` into directory `to`: directories, regular files and symlinks
// (as symlinks), with their owner, mode and modification time; other kinds (devices, fifos,
// sockets) and names that exist in `to` already are skipped. Every name is opened relative to its
// parent's fd with O_NOFOLLOW, so no symlink in either tree leads the copy anywhere else.
void copy_tree(BorrowedFd from, BorrowedFd to);

}  // namespace gctool::fs
