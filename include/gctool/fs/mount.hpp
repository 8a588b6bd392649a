// mount(2) with errors that name source, target, type, flags and data (runc's mountError). gctool
// mounts inside a container's own mount namespace, which takes its mounts with it, or detached
// (fsmount, gone with its fd). The one exception, a shareable container's /dev/shm on the host
// side, is unmounted by the container store (ContainerStore::release_host_mounts).
#pragma once

#include <filesystem>
#include <string>

#include "gctool/core/fd.hpp"

namespace gctool::fs {

// Mounts and throws Error like `mount "overlay" on "/x/merged" (type overlay, flags 0x0, data
// "lowerdir=..."): Invalid argument`.
void mount(const std::string& source, const std::filesystem::path& target,
           const std::string& fstype, unsigned long flags, const std::string& data = {});

// Bind-mounts source on the directory or file target (an fd opened inside the root), recursively
// unless told otherwise; a read_only bind is made read-only before it is attached.
void bind_mount(const std::filesystem::path& source, BorrowedFd target, bool read_only,
                bool recursive = true);

// Remounts the mount at target read-only, keeping its other per-mount flags.
void remount_read_only(const std::filesystem::path& target);

}  // namespace gctool::fs
