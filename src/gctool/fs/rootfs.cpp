#include "gctool/fs/rootfs.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <climits>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/fs/mount.hpp"
#include "gctool/fs/safe_path.hpp"

namespace gctool::fs {

std::string overlay_options(const std::vector<std::filesystem::path>& layers_bottom_to_top,
                            const std::filesystem::path& upper, const std::filesystem::path& work,
                            UpperLayer upper_layer) {
  if (layers_bottom_to_top.empty()) {
    throw_invalid("overlay: the image has no layers");
  }
  std::string lower;
  for (auto it = layers_bottom_to_top.rbegin(); it != layers_bottom_to_top.rend(); ++it) {
    const std::string dir = it->string();
    // ':' and ',' separate options; the kernel would misread such paths.
    if (dir.find_first_of(":,") != std::string::npos) {
      throw_invalid("overlay: layer path \"{}\" contains ':' or ','", dir);
    }
    if (!lower.empty()) {
      lower += ':';
    }
    lower += dir;
  }
  return fmt::format("lowerdir={},upperdir={},workdir={}{}", lower, upper.string(), work.string(),
                     upper_layer == UpperLayer::scratch ? ",volatile" : "");
}

void mount_overlay(const std::vector<std::filesystem::path>& layers_bottom_to_top,
                   const std::filesystem::path& upper, const std::filesystem::path& work,
                   const std::filesystem::path& target, UpperLayer upper_layer) {
  if (upper_layer == UpperLayer::scratch) {
    try {
      mount("overlay", target, "overlay", 0,
            overlay_options(layers_bottom_to_top, upper, work, upper_layer));
      return;
    } catch (const Error& e) {
      // Before Linux 5.10 there is no "volatile"; the mount below reports any other problem.
      if (e.errno_value() != EINVAL) {
        throw;
      }
    }
  }
  mount("overlay", target, "overlay", 0, overlay_options(layers_bottom_to_top, upper, work));
}

UniqueFd open_overlay(const std::vector<std::filesystem::path>& layers_bottom_to_top,
                      const std::filesystem::path& upper, const std::filesystem::path& work) {
  if (layers_bottom_to_top.empty()) {
    throw_invalid("overlay: the image has no layers");
  }
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) {
    throw_errno("fsopen overlay");
  }
  // fsconfig takes strings of up to 255 bytes: each directory goes as the short name of an fd,
  // and the layers one by one ("lowerdir+", top first, Linux 6.8).
  const auto set = [&](const char* key, const std::filesystem::path& dir) {
    const UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      throw_errno("open {}", dir.string());
    }
    const std::string name = fd_path(fd);
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, name.c_str(), 0) != 0) {
      throw_errno("overlay: fsconfig {}={}", key, dir.string());
    }
  };
  for (auto it = layers_bottom_to_top.rbegin(); it != layers_bottom_to_top.rend(); ++it) {
    set("lowerdir+", *it);
  }
  set("upperdir", upper);
  set("workdir", work);
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    throw_errno("overlay: create the mount of upper dir {}", upper.string());
  }
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) {
    throw_errno("overlay: fsmount of upper dir {}", upper.string());
  }
  return mnt;
}

namespace {

// The image's /proc, /sys or /dev, created when missing. An image that made it a symlink (to a
// host path, or anywhere) is refused, as runc does: the kernel file systems mounted there must
// be where the container and gctool's masked paths expect them, never somewhere else.
UniqueFd system_mount_point(BorrowedFd root, const std::string& name, const char* fstype,
                            mode_t mode) {
  struct stat st {};
  if (::fstatat(root.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
    std::string what = "not a directory";
    if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      const ssize_t n = ::readlinkat(root.get(), name.c_str(), target.data(), target.size());
      target.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      what = fmt::format("a symlink to \"{}\"", target);
    }
    throw_invalid("the image's /{} is {}: {} must be mounted on an ordinary directory", name, what,
                  fstype);
  }
  return mkdir_all_in_root(root, name, mode);
}

bool same_file(const char* a, const char* b) {
  struct stat sa {};
  struct stat sb {};
  check(::stat(a, &sa), "stat {}", a);
  check(::stat(b, &sb), "stat {}", b);
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Under a chroot (gctool run from one), the mount namespace's root lies above our "/": pivot_root
// would swap only the chroot's mount, and the host's tree would stay the namespace's root, where
// `exec` lands (setns) and which the container could reach again with CAP_SYS_CHROOT. So go up
// to the namespace's root first: with the root moved below the cwd, ".." climbs past the old one,
// up to the top, where ".." is "." (at once without a chroot).
void enter_namespace_root(const std::filesystem::path& below) {
  check(::chdir("/"), "chdir /");
  check(::chroot(below.c_str()), "chroot {}", below);
  bool climbed = false;
  for (; !same_file(".", ".."); climbed = true) {
    check(::chdir(".."), "chdir ..");
  }
  check(::chroot("."), "chroot to the mount namespace's root");
  if (climbed) {
    // pivot_root refuses a shared root, and nothing done here may propagate to the host (as
    // build_rootfs made the chroot's mounts).
    mount("", "/", "", MS_PRIVATE | MS_REC);
  }
}

}  // namespace

void mount_proc_and_sys(BorrowedFd root) {
  const UniqueFd proc = system_mount_point(root, "proc", "proc", 0555);
  mount("proc", fd_path(proc), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  const UniqueFd sys = system_mount_point(root, "sys", "sysfs", 0555);
  try {
    mount("sysfs", fd_path(sys), "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
  } catch (const Error&) {
    // sysfs refuses a mount from a netns that does not own it in some setups.
    bind_mount("/sys", sys, true);
  }
}

UniqueFd setup_dev(BorrowedFd root, std::int64_t shm_size,
                   const std::filesystem::path& shm_source) {
  const UniqueFd dev_fd = system_mount_point(root, "dev", "tmpfs", 0755);
  mount("tmpfs", fd_path(dev_fd), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  // Reopen: the fd above names the directory under the new tmpfs.
  const UniqueFd dev = open_in_root(root, "/dev", O_PATH | O_DIRECTORY);
  struct Node {
    const char* name;
    unsigned major;
    unsigned minor;
  };
  static constexpr Node nodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                                   {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  const UniqueFd dev_dir(
      check(::openat(dev.get(), ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC), "open /dev"));
  for (const auto& node : nodes) {
    if (::mknodat(dev_dir.get(), node.name, S_IFCHR | 0666, makedev(node.major, node.minor)) != 0) {
      throw_errno("mknod /dev/{}", node.name);
    }
    // mknod is subject to the umask.
    check(::fchmodat(dev_dir.get(), node.name, 0666, 0), "chmod /dev/{}", node.name);
  }
  UniqueFd null(check(::openat(dev_dir.get(), "null", O_PATH | O_NOFOLLOW | O_CLOEXEC),
                      "open the new /dev/null"));
  struct stat st {};
  struct statfs fs {};
  check(::fstat(null.get(), &st), "stat the new /dev/null");
  check(::fstatfs(null.get(), &fs), "statfs the new /dev/null");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3) || fs.f_type != TMPFS_MAGIC) {
    throw Error(EXDEV, "the new /dev/null is not the null device on the container's /dev tmpfs");
  }
  check(::mkdirat(dev_dir.get(), "pts", 0755), "mkdir /dev/pts");
  check(::mkdirat(dev_dir.get(), "shm", 01777), "mkdir /dev/shm");
  const UniqueFd pts = open_in_root(root, "/dev/pts", O_PATH | O_DIRECTORY);
  mount("devpts", fd_path(pts), "devpts", MS_NOSUID | MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620");
  const UniqueFd shm = open_in_root(root, "/dev/shm", O_PATH | O_DIRECTORY);
  if (shm_source.empty()) {
    mount("shm", fd_path(shm), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
          fmt::format("mode=1777,size={}", shm_size));
  } else {
    bind_mount(shm_source, shm, false, false);
  }
  const std::pair<const char*, const char*> links[] = {{"pts/ptmx", "ptmx"},
                                                       {"/proc/self/fd", "fd"},
                                                       {"/proc/self/fd/0", "stdin"},
                                                       {"/proc/self/fd/1", "stdout"},
                                                       {"/proc/self/fd/2", "stderr"}};
  for (const auto& [target, name] : links) {
    check(::symlinkat(target, dev_dir.get(), name), "symlink /dev/{} -> {}", name, target);
  }
  return null;
}

void pivot_root_into(const std::filesystem::path& new_root) {
  const UniqueFd target(
      check(::open(new_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open {}", new_root));
  enter_namespace_root(new_root);
  // pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then removes
  // the old root without needing a directory for it inside the container.
  check(::fchdir(target.get()), "chdir {}", new_root);
  check(static_cast<int>(::syscall(SYS_pivot_root, ".", ".")), "pivot_root");
  // The old root may have shared mounts: do not let the unmount propagate back to the host.
  check(::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr), "make the old root slave");
  check(::umount2(".", MNT_DETACH), "detach the old root");
  check(::chdir("/"), "chdir /");
}

}  // namespace gctool::fs
