#include "gctool/fs/safe_path.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "gctool/core/error.hpp"

namespace gctool::fs {
namespace {

long raw_openat2(BorrowedFd root, std::string_view path, int flags, mode_t mode) {
  const std::string rel(path);
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return ::syscall(SYS_openat2, root.get(), rel.empty() ? "." : rel.c_str(), &how, sizeof how);
}

std::string_view trim_slashes(std::string_view path) {
  while (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  return path;
}

}  // namespace

UniqueFd open_in_root(BorrowedFd root, std::string_view path, int flags, mode_t mode) {
  const long fd = raw_openat2(root, trim_slashes(path), flags, mode);
  if (fd < 0) {
    throw_errno("open \"{}\" in the container root", path);
  }
  return UniqueFd(static_cast<int>(fd));
}

UniqueFd mkdir_all_in_root(BorrowedFd root, std::string_view path, mode_t mode) {
  // One component at a time, each opened relative to the previous one and resolved in root.
  UniqueFd dir(check(::fcntl(root.get(), F_DUPFD_CLOEXEC, 3), "dup root fd"));
  std::string_view rest = trim_slashes(path);
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string name(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : trim_slashes(rest.substr(slash));
    if (name.empty() || name == ".") {
      continue;
    }
    if (::mkdirat(dir.get(), name.c_str(), mode) != 0 && errno != EEXIST) {
      throw_errno("mkdir \"{}\" in the container root ({})", name, path);
    }
    // Resolving "name" relative to dir would escape on "..": resolve the prefix from root.
    const std::string_view done =
        trim_slashes(path).substr(0, trim_slashes(path).size() - rest.size());
    const long fd = raw_openat2(root, trim_slashes(done), O_PATH | O_DIRECTORY, 0);
    if (fd < 0) {
      throw_errno("open directory \"{}\" in the container root", done);
    }
    dir.reset(static_cast<int>(fd));
  }
  return dir;
}

UniqueFd touch_in_root(BorrowedFd root, std::string_view path, mode_t mode) {
  std::string_view p = trim_slashes(path);
  const auto slash = p.rfind('/');
  if (slash != std::string_view::npos) {
    mkdir_all_in_root(root, p.substr(0, slash));
  }
  const long fd = raw_openat2(root, p, O_CREAT | O_RDONLY | O_NOFOLLOW | O_NONBLOCK, mode);
  if (fd >= 0) {
    return UniqueFd(static_cast<int>(fd));
  }
  // Something that cannot be opened for reading (a directory, a socket) is still a mount point.
  return open_in_root(root, p, O_PATH);
}

std::string fd_path(BorrowedFd fd) {
  return fmt::format("/proc/self/fd/{}", fd.get());
}

}  // namespace gctool::fs
