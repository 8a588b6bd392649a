// mount(2) with errors that name source, target, type, flags and data (runc's mountError), and
// MountGuard, which unmounts what it owns unless released.
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

// Owns a mount point: detaches it (MNT_DETACH) on destruction unless released.
class MountGuard {
 public:
  MountGuard() = default;
  explicit MountGuard(std::filesystem::path target) : target_(std::move(target)) {}
  MountGuard(MountGuard&& other) noexcept : target_(std::move(other.target_)) {
    other.target_.clear();
  }
  MountGuard& operator=(MountGuard&& other) noexcept;
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard() { reset(); }

  // Unmounts now (MNT_DETACH); errors are ignored: the mount may already be gone.
  void reset() noexcept;
  // Keeps the mount and returns its target.
  std::filesystem::path release() noexcept;
  const std::filesystem::path& target() const noexcept { return target_; }

 private:
  std::filesystem::path target_;
};

}  // namespace gctool::fs
