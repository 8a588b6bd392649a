// Building a container's root filesystem: the overlay of the image layers, the kernel filesystems
// and /dev every program expects, and the switch into it with pivot_root.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "gctool/core/fd.hpp"

namespace gctool::fs {

// What the upper layer of an overlay must survive. `scratch`: it is deleted when the container
// exits (--rm), so it is never synced: overlayfs' "volatile" (Linux 5.10) spares the syncfs of
// the whole host filesystem that unmounting an overlay does otherwise.
enum class UpperLayer { kept, scratch };

// The overlay mount data for layers given bottom-to-top: lowerdir lists the top layer first.
std::string overlay_options(const std::vector<std::filesystem::path>& layers_bottom_to_top,
                            const std::filesystem::path& upper, const std::filesystem::path& work,
                            UpperLayer upper_layer = UpperLayer::kept);

// Mounts the overlay of the layers on target (a single layer with no upper would be read-only).
// A scratch upper layer falls back to a synced one on kernels without "volatile".
void mount_overlay(const std::vector<std::filesystem::path>& layers_bottom_to_top,
                   const std::filesystem::path& upper, const std::filesystem::path& work,
                   const std::filesystem::path& target, UpperLayer upper_layer = UpperLayer::kept);

// The same overlay as a detached mount (fsopen/fsmount): an fd of its root that is attached
// nowhere, so no mount is ever left behind, whoever else can see the host's mount table. For
// reading and writing a stopped container's files (`cp`); the caller keeps the container from
// starting meanwhile, as two mounts must not share an upper layer.
UniqueFd open_overlay(const std::vector<std::filesystem::path>& layers_bottom_to_top,
                      const std::filesystem::path& upper, const std::filesystem::path& work);

// Mounts /proc (nosuid,nodev,noexec) and /sys (read-only; a read-only bind of the host's /sys
// when sysfs cannot be mounted) in the root opened as `root`. Call in the container's new mount
// and pid namespaces, before pivot_root. An image whose /proc or /sys is a symlink or not a
// directory is refused (invalid input).
void mount_proc_and_sys(BorrowedFd root);

// Populates /dev as a tmpfs: null zero full random urandom tty (mknod), devpts at /dev/pts with its
// own instance and /dev/ptmx -> pts/ptmx, /dev/shm, /dev/mqueue-less, fd/stdin/stdout/stderr links.
// An image whose /dev is a symlink or not a directory is refused (invalid input).
// Returns the new /dev/null opened O_PATH and checked to be the character device 1:3 on that
// tmpfs: masked files are bound from it, never from whatever /dev/null later resolves to in the
// container (CVE-2025-31133). Throws when it cannot be checked.
// /dev/shm is shm_size bytes (Docker's default: 64 MiB).
// `shm_source`, when not empty, is bound at /dev/shm instead of a new tmpfs: the /dev/shm of the
// IPC namespace the container shares (the host's, another container's).
UniqueFd setup_dev(BorrowedFd root, std::int64_t shm_size = 64 * 1024 * 1024,
                   const std::filesystem::path& shm_source = {});

// Makes new_root (a mount point) the root of the calling process's mount namespace and detaches
// the old root so that no host path remains reachable. Ends with cwd "/".
void pivot_root_into(const std::filesystem::path& new_root);

}  // namespace gctool::fs
