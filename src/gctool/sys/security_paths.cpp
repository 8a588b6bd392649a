// Masked and read-only paths, applied in the init child: raw syscalls only, fds instead of paths.
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gctool/sys/security.hpp"

namespace gctool::sys {
namespace {

// Closes an fd at scope end without touching errno (UniqueFd would do, but keep this file free
// of anything but syscalls).
class ChildFd {
 public:
  explicit ChildFd(int fd) noexcept : fd_(fd) {}
  ChildFd(const ChildFd&) = delete;
  ChildFd& operator=(const ChildFd&) = delete;
  ~ChildFd() {
    if (fd_ >= 0) {
      const int saved = errno;
      ::close(fd_);
      errno = saved;
    }
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

struct Step {
  const char* name;
  int error;  // 0 or an errno
};

bool starts_with(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// The path opened O_PATH inside root, never leaving it nor following a symlink.
int open_in_root(int root_fd, const char* path) {
  while (*path == '/') {
    ++path;
  }
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, path, &how, sizeof how));
}

// procfs under /proc, sysfs under /sys: anything else means the mount is not the one we made.
Step check_filesystem(int fd, const char* path) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) {
    return {"statfs", errno};
  }
  const bool ok = (starts_with(path, "/proc/") && fs.f_type == PROC_SUPER_MAGIC) ||
                  (starts_with(path, "/sys/") && fs.f_type == SYSFS_MAGIC);
  return ok ? Step{nullptr, 0} : Step{"check filesystem (not procfs/sysfs)", EXDEV};
}

Step move_onto(int tree_fd, int target_fd) {
  if (::move_mount(tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) !=
      0) {
    return {"move_mount", errno};
  }
  return {nullptr, 0};
}

Step mask_file(int null_fd, int target_fd) {
  struct stat st {};
  if (::fstat(null_fd, &st) != 0) {
    return {"fstat /dev/null", errno};
  }
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
    return {"check /dev/null (not the null device)", EXDEV};
  }
  ChildFd null_tree(::open_tree(null_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (null_tree.get() < 0) {
    return {"open_tree /dev/null", errno};
  }
  return move_onto(null_tree.get(), target_fd);
}

Step mask_directory(int target_fd) {
  ChildFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (fs.get() < 0) {
    return {"fsopen tmpfs", errno};
  }
  if (::fsconfig(fs.get(), FSCONFIG_SET_FLAG, "ro", nullptr, 0) != 0 ||
      ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return {"fsconfig tmpfs", errno};
  }
  ChildFd mnt(
      ::fsmount(fs.get(), FSMOUNT_CLOEXEC,
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (mnt.get() < 0) {
    return {"fsmount tmpfs", errno};
  }
  return move_onto(mnt.get(), target_fd);
}

Step make_readonly(int target_fd) {
  ChildFd tree(::open_tree(target_fd, "",
                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE));
  if (tree.get() < 0) {
    return {"open_tree", errno};
  }
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
    return {"mount_setattr read-only", errno};
  }
  return move_onto(tree.get(), target_fd);
}

// Opens and checks path, then runs action on it; a missing path is nothing to do.
template <typename Action>
Step restrict_path(int root_fd, const char* path, Action action) {
  ChildFd target(open_in_root(root_fd, path));
  if (target.get() < 0) {
    return errno == ENOENT ? Step{nullptr, 0} : Step{"openat2", errno};
  }
  if (const auto step = check_filesystem(target.get(), path); step.error != 0) {
    return step;
  }
  return action(target.get());
}

}  // namespace

SecurityStatus apply_path_restrictions(BorrowedFd root_fd, BorrowedFd null,
                                       std::span<const std::string> masked,
                                       std::span<const std::string> readonly) noexcept {
  for (const auto& path : masked) {
    const auto step = restrict_path(root_fd.get(), path.c_str(), [null](int fd) {
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        return Step{"fstat", errno};
      }
      return S_ISDIR(st.st_mode) ? mask_directory(fd) : mask_file(null.get(), fd);
    });
    if (step.error != 0) {
      return {step.name, path.c_str(), step.error};
    }
  }
  for (const auto& path : readonly) {
    const auto step = restrict_path(root_fd.get(), path.c_str(), make_readonly);
    if (step.error != 0) {
      return {step.name, path.c_str(), step.error};
    }
  }
  return {};
}

}  // namespace gctool::sys
