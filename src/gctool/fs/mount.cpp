#include "gctool/fs/mount.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/fs/safe_path.hpp"

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

void bind_mount(const std::filesystem::path& source, BorrowedFd target, bool read_only,
                bool recursive) {
  if (!read_only) {
    mount(source.string(), fd_path(target), "bind", MS_BIND | (recursive ? MS_REC : 0));
    return;
  }
  // A read-only bind is made read-only while still detached, then attached through the target
  // fd: there is no window in which it is writable, and no remount through a /proc/self/fd/N
  // path (which names the directory under the new mount, so the kernel answers EINVAL).
  const unsigned int rec = recursive ? AT_RECURSIVE : 0;
  UniqueFd tree(
      check(::open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec),
            "open_tree {}", source));
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  check(::mount_setattr(tree.get(), "", AT_EMPTY_PATH | rec, &attr, sizeof attr),
        "make the bind of {} read-only", source);
  check(::move_mount(tree.get(), "", target.get(), "",
                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH),
        "move_mount {} on {}", source, fd_path(target));
}

void remount_read_only(const std::filesystem::path& target) {
  mount("", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(target));
}

}  // namespace gctool::fs
