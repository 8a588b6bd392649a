#include "gctool/fs/mount.hpp"

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <fmt/std.h>

#include "gctool/core/error.hpp"

namespace gctool::fs {
namespace {

// The per-mount flags of the mount holding path, as mount(2) flags.
unsigned long locked_flags(const std::filesystem::path& path) {
  struct statvfs st {};
  check(::statvfs(path.c_str(), &st), "statvfs {}", path);
  unsigned long flags = 0;
  const std::pair<unsigned long, unsigned long> map[] = {
      {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},           {ST_NOEXEC, MS_NOEXEC},
      {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
  };
  for (const auto& [st_flag, ms_flag] : map) {
    if ((st.f_flag & st_flag) != 0) {
      flags |= ms_flag;
    }
  }
  return flags;
}

}  // namespace

void mount(const std::string& source, const std::filesystem::path& target,
           const std::string& fstype, unsigned long flags, const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    throw_errno("mount \"{}\" on {} (type {}, flags {:#x}, data \"{}\")", source, target,
                fstype.empty() ? "none" : fstype, flags, data);
  }
}

void bind_mount(const std::filesystem::path& source, const std::filesystem::path& target,
                bool read_only, bool recursive) {
  const unsigned long rec = recursive ? MS_REC : 0;
  mount(source.string(), target, "bind", MS_BIND | rec);
  if (read_only) {
    mount("", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(target));
  }
}

void remount_read_only(const std::filesystem::path& target) {
  mount("", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(target));
}

MountGuard& MountGuard::operator=(MountGuard&& other) noexcept {
  if (this != &other) {
    reset();
    target_ = std::move(other.target_);
    other.target_.clear();
  }
  return *this;
}

void MountGuard::reset() noexcept {
  if (!target_.empty()) {
    ::umount2(target_.c_str(), MNT_DETACH);
    target_.clear();
  }
}

std::filesystem::path MountGuard::release() noexcept {
  auto target = std::move(target_);
  target_.clear();
  return target;
}

}  // namespace gctool::fs
