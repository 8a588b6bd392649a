#include "gctool/sys/sealed_exe.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "gctool/core/error.hpp"

// Newer than Debian's kernel headers.
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

extern char** environ;

namespace gctool::sys {
namespace {

// The host path of the executable, from the process that re-executes itself to its sealed copy.
// Only a process that finds itself sealed takes it, and removes it so no child inherits it.
constexpr const char* kHostExeEnv = "_GCTOOL_HOST_EXE";

constexpr int kWriteSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

std::filesystem::path& saved_host_exe() {
  static std::filesystem::path path;
  return path;
}

std::filesystem::path self_exe_path() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw Error(ec.value(), "read the link /proc/self/exe");
  }
  return path;
}

UniqueFd fs_context(const char* type) {
  return UniqueFd(
      check(static_cast<int>(::syscall(SYS_fsopen, type, FSOPEN_CLOEXEC)), "fsopen {}", type));
}

void fs_set_fd(BorrowedFd context, const char* key, BorrowedFd fd) {
  check(::syscall(SYS_fsconfig, context.get(), FSCONFIG_SET_FD, key, nullptr, fd.get()),
        "fsconfig {}", key);
}

void fs_set_string(BorrowedFd context, const char* key, const char* value) {
  check(::syscall(SYS_fsconfig, context.get(), FSCONFIG_SET_STRING, key, value, 0),
        "fsconfig {}={}", key, value);
}

// A detached mount of the configured filesystem: reachable only through the returned fd.
UniqueFd fs_mount(BorrowedFd context, const char* type, unsigned attributes) {
  check(::syscall(SYS_fsconfig, context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0),
        "create a {} filesystem", type);
  return UniqueFd(
      check(static_cast<int>(::syscall(SYS_fsmount, context.get(), FSMOUNT_CLOEXEC, attributes)),
            "fsmount {}", type));
}

constexpr unsigned kSealedMountAttributes =
    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID;

// overlayfs mounts without an upper layer only with two lower layers at least: the second one.
UniqueFd empty_tmpfs() {
  const UniqueFd context = fs_context("tmpfs");
  fs_set_string(context.borrow(), "size", "4k");
  fs_set_string(context.borrow(), "mode", "0555");
  return fs_mount(context.borrow(), "tmpfs", kSealedMountAttributes | MOUNT_ATTR_NOEXEC);
}

bool same_content_stamp(const struct stat& a, const struct stat& b) {
  return S_ISREG(a.st_mode) && S_ISREG(b.st_mode) && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// No copy at all: the executable seen through an overlayfs that has no layer to write to.
UniqueFd seal_overlay(const std::filesystem::path& exe, const struct stat& original) {
  const UniqueFd dir(check(::open(exe.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC),
                           "open {}", exe.parent_path()));
  const UniqueFd empty = empty_tmpfs();
  const UniqueFd context = fs_context("overlay");
  // The executable's directory on top: nothing of the other layer can hide it.
  fs_set_fd(context.borrow(), "lowerdir+", dir.borrow());
  fs_set_fd(context.borrow(), "lowerdir+", empty.borrow());
  // Not needed, and it would log to dmesg when the layers are on different filesystems.
  ::syscall(SYS_fsconfig, context.get(), FSCONFIG_SET_STRING, "xino", "off", nullptr, 0);
  const UniqueFd mount = fs_mount(context.borrow(), "overlay", kSealedMountAttributes);
  UniqueFd file(
      check(::openat(mount.get(), exe.filename().c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC),
            "open {} through a read-only overlay", exe));
  struct stat seen {};
  check(::fstat(file.get(), &seen), "stat {} through a read-only overlay", exe);
  if (!same_content_stamp(original, seen)) {
    // Replaced since it was started (an upgrade): copy what runs instead.
    throw Error(ESTALE, fmt::format("{} changed since gctool started", exe));
  }
  return file;
}

UniqueFd seal_memfd(BorrowedFd exe, const struct stat& original) {
  int fd = ::memfd_create("gctool-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) {
    // A kernel older than 6.3 knows no MFD_EXEC; its memfds are executable anyway.
    fd = ::memfd_create("gctool-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  }
  UniqueFd copy(check(fd, "memfd_create"));
  off_t offset = 0;
  while (offset < original.st_size) {
    const ssize_t n = ::sendfile(copy.get(), exe.get(), &offset,
                                 static_cast<std::size_t>(original.st_size - offset));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    check(n, "copy the executable into a memfd");
    if (n == 0) {
      throw Error(EIO, "copy the executable into a memfd: it shrank while copied");
    }
  }
  check(::fchmod(copy.get(), 0511), "chmod the sealed copy");
  // Keeps the mode as it is (Linux 6.3); the write seals below are what matters.
  ::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_EXEC);
  check(::fcntl(copy.get(), F_ADD_SEALS, kWriteSeals), "seal the copy of the executable");
  return copy;
}

}  // namespace

bool is_sealed_executable(BorrowedFd fd) {
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals >= 0) {
    return (seals & kWriteSeals) == kWriteSeals;
  }
  struct statfs fs {};
  return ::fstatfs(fd.get(), &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC &&
         (fs.f_flags & ST_RDONLY) != 0;
}

bool self_exe_sealed() {
  const UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  return self.valid() && is_sealed_executable(self.borrow());
}

UniqueFd seal_self_exe(SealMethod method) {
  const UniqueFd self(check(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC), "open /proc/self/exe"));
  struct stat original {};
  check(::fstat(self.get(), &original), "stat /proc/self/exe");
  if (method == SealMethod::memfd) {
    return seal_memfd(self.borrow(), original);
  }
  const auto exe = self_exe_path();
  return seal_overlay(exe, original);
}

void reexec_sealed(char** argv) {
  const char* passed = ::getenv(kHostExeEnv);
  const std::string host = passed != nullptr ? passed : "";
  ::unsetenv(kHostExeEnv);
  if (self_exe_sealed()) {
    saved_host_exe() = host;
    return;
  }
  if (!host.empty()) {
    // Set by our own re-exec, whose copy is not sealed after all: never loop.
    throw Error(EPERM, "gctool re-executed itself from a sealed copy but does not run from one");
  }
  const auto exe = self_exe_path();
  UniqueFd sealed;
  try {
    sealed = seal_self_exe(SealMethod::overlay);
  } catch (const Error&) {
    // No overlayfs, or a kernel without lowerdir+ (older than 6.8): a copy then.
    sealed = seal_self_exe(SealMethod::memfd);
  }
  check(::setenv(kHostExeEnv, exe.c_str(), 1), "setenv");
  ::syscall(SYS_execveat, sealed.get(), "", argv, environ, AT_EMPTY_PATH);
  const int err = errno;
  ::unsetenv(kHostExeEnv);
  throw Error(err, "execute gctool from its sealed copy");
}

std::filesystem::path host_executable() {
  if (!saved_host_exe().empty()) {
    return saved_host_exe();
  }
  return self_exe_path();
}

}  // namespace gctool::sys
