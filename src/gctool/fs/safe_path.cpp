#include "gctool/fs/safe_path.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

#include <fmt/format.h>

#include "gctool/core/error.hpp"

namespace gctool::fs {
namespace {

// As the kernel's MAXSYMLINKS.
constexpr int kMaxSymlinks = 40;

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

// The non-empty components of path, "." dropped.
std::deque<std::string> split(std::string_view path) {
  std::deque<std::string> parts;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto part = path.substr(0, slash);
    if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    out += (out.empty() ? "" : "/") + part;
  }
  return out;
}

UniqueFd dup_fd(BorrowedFd fd) {
  return UniqueFd(check(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3), "dup the container root fd"));
}

// One component below dir, never following a symlink: it cannot leave dir.
UniqueFd open_child(BorrowedFd dir, const std::string& name, int flags) {
  return UniqueFd(::openat(dir.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
}

// Re-opens the already resolved components from root (after ".." or an absolute symlink).
UniqueFd open_resolved(BorrowedFd root, const std::vector<std::string>& parts,
                       std::string_view path) {
  if (parts.empty()) {
    return dup_fd(root);
  }
  const long fd = raw_openat2(root, join(parts), O_PATH, 0);
  if (fd < 0) {
    throw_errno("resolve \"{}\" in the container root", path);
  }
  return UniqueFd(static_cast<int>(fd));
}

bool on_procfs(BorrowedFd dir) {
  struct statfs st {};
  return ::fstatfs(dir.get(), &st) == 0 && st.f_type == PROC_SUPER_MAGIC;
}

// Walks the clean, symlink-free relative path from root, creating missing directories with
// mode, and returns an O_PATH fd to the last directory. Components are opened one by one with
// O_NOFOLLOW, so a symlink appearing meanwhile fails the walk instead of redirecting it.
UniqueFd mkdir_resolved(BorrowedFd root, std::string_view resolved, mode_t mode,
                        std::string_view path) {
  UniqueFd dir = dup_fd(root);
  for (const auto& name : split(resolved)) {
    if (::mkdirat(dir.get(), name.c_str(), mode) != 0 && errno != EEXIST) {
      throw_errno("mkdir \"{}\" in the container root (for \"{}\")", name, path);
    }
    UniqueFd next = open_child(dir, name, O_PATH | O_DIRECTORY);
    if (!next) {
      throw_errno("open directory \"{}\" in the container root (for \"{}\")", name, path);
    }
    dir = std::move(next);
  }
  return dir;
}

}  // namespace

std::string resolve_in_root(BorrowedFd root, std::string_view path) {
  std::deque<std::string> todo = split(path);
  std::vector<std::string> done;
  UniqueFd dir = dup_fd(root);
  bool missing = false;  // a component does not exist: the rest is taken as written
  int links = 0;
  while (!todo.empty()) {
    const std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == "..") {
      if (!done.empty()) {
        done.pop_back();
      }
      if (!missing) {
        dir = open_resolved(root, done, path);
      }
      continue;
    }
    if (missing) {
      done.push_back(name);
      continue;
    }
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) {
        throw_errno("resolve \"{}\" in the container root: stat \"{}\"", path, name);
      }
      missing = true;
      done.push_back(name);
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      // Links of procfs (/proc/self/fd/N, /proc/1/root) name objects, not paths: never follow.
      if (on_procfs(dir)) {
        throw Error(ELOOP, fmt::format("resolve \"{}\" in the container root: \"{}\" is a symlink "
                                       "of /proc, not followed",
                                       path, name));
      }
      if (++links > kMaxSymlinks) {
        throw Error(ELOOP, fmt::format("resolve \"{}\" in the container root", path));
      }
      std::string target(PATH_MAX, '\0');
      const ssize_t n = ::readlinkat(dir.get(), name.c_str(), target.data(), target.size());
      if (n < 0) {
        throw_errno("resolve \"{}\" in the container root: readlink \"{}\"", path, name);
      }
      target.resize(static_cast<std::size_t>(n));
      auto parts = split(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (target.starts_with('/')) {
        done.clear();
        dir = dup_fd(root);
      }
      continue;
    }
    done.push_back(name);
    if (!todo.empty()) {
      dir = open_child(dir, name, O_PATH | O_DIRECTORY);
      if (!dir) {
        throw_errno("resolve \"{}\" in the container root: open \"{}\"", path, join(done));
      }
    }
  }
  return join(done);
}

UniqueFd open_in_root(BorrowedFd root, std::string_view path, int flags, mode_t mode) {
  const long fd = raw_openat2(root, trim_slashes(path), flags, mode);
  if (fd < 0) {
    throw_errno("open \"{}\" in the container root", path);
  }
  return UniqueFd(static_cast<int>(fd));
}

UniqueFd mkdir_all_in_root(BorrowedFd root, std::string_view path, mode_t mode) {
  return mkdir_resolved(root, resolve_in_root(root, path), mode, path);
}

UniqueFd touch_in_root(BorrowedFd root, std::string_view path, mode_t mode) {
  const std::string resolved = resolve_in_root(root, path);
  if (resolved.empty()) {
    return dup_fd(root);
  }
  const auto slash = resolved.rfind('/');
  const std::string name = slash == std::string::npos ? resolved : resolved.substr(slash + 1);
  const UniqueFd parent = mkdir_resolved(
      root,
      slash == std::string::npos ? std::string_view() : std::string_view(resolved).substr(0, slash),
      0755, path);
  UniqueFd file(::openat(parent.get(), name.c_str(),
                         O_CREAT | O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode));
  if (file) {
    return file;
  }
  // Something that cannot be opened for reading (a directory, a socket) is still a mount point.
  file = open_child(parent, name, O_PATH);
  if (!file) {
    throw_errno("open \"{}\" in the container root (for \"{}\")", resolved, path);
  }
  return file;
}

namespace {

std::string_view file_kind(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFIFO:
      return "a FIFO";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    case S_IFSOCK:
      return "a socket";
    case S_IFDIR:
      return "a directory";
    default:
      return "not a regular file";
  }
}

}  // namespace

std::optional<std::string> read_regular_file_in_root(BorrowedFd root, std::string_view path,
                                                     std::size_t max_size) {
  // O_PATH first: opening a FIFO or a device to read it may block or have effects of its own.
  const long rc = raw_openat2(root, trim_slashes(path), O_PATH, 0);
  if (rc < 0 && (errno == ENOENT || errno == ENOTDIR)) {
    return std::nullopt;
  }
  const UniqueFd where(static_cast<int>(check(rc, "open {} in the container", path)));
  struct stat st {};
  check(::fstat(where.get(), &st), "stat {} in the container", path);
  if (!S_ISREG(st.st_mode)) {
    throw_invalid("{} in the container is {}, not a regular file", path, file_kind(st.st_mode));
  }
  const auto too_large = [&] {
    throw_invalid("{} in the container is larger than {} bytes", path, max_size);
  };
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    too_large();
  }
  // The same inode, now readable (a regular file opens without side effects).
  const UniqueFd file(check(::open(fd_path(where).c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC),
                            "open {} in the container", path));
  struct stat opened {};
  check(::fstat(file.get(), &opened), "stat {} in the container", path);
  if (opened.st_dev != st.st_dev || opened.st_ino != st.st_ino) {
    throw Error(EXDEV, fmt::format("reopen {} in the container: another file was opened", path));
  }
  std::string content;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(file.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    check(n, "read {} in the container", path);
    if (n == 0) {
      return content;
    }
    content.append(buf, static_cast<std::size_t>(n));
    if (content.size() > max_size) {
      // It grew while read.
      too_large();
    }
  }
}

std::string fd_path(BorrowedFd fd) {
  return fmt::format("/proc/self/fd/{}", fd.get());
}

}  // namespace gctool::fs
