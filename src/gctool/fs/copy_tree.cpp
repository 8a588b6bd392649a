#include "gctool/fs/copy_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <vector>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/scope_exit.hpp"

namespace gctool::fs {
namespace {

// The names in dir, without "." and "..".
std::vector<std::string> entries(BorrowedFd dir) {
  const int copy = check(::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0), "dup directory fd");
  DIR* stream = ::fdopendir(copy);
  if (stream == nullptr) {
    const int err = errno;
    ::close(copy);
    throw Error(err, "fdopendir");
  }
  ScopeExit close_stream([stream]() noexcept { ::closedir(stream); });
  ::rewinddir(stream);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(stream)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") {
      names.push_back(name);
    }
  }
  return names;
}

// Owner, then mode (chown clears set-id bits), then times, of what fd refers to.
void copy_attributes(BorrowedFd fd, const struct stat& st, const std::string& name) {
  check(::fchown(fd.get(), st.st_uid, st.st_gid), "chown \"{}\"", name);
  check(::fchmod(fd.get(), st.st_mode & 07777), "chmod \"{}\"", name);
  const std::array<timespec, 2> times{st.st_atim, st.st_mtim};
  check(::futimens(fd.get(), times.data()), "set times of \"{}\"", name);
}

void copy_file(BorrowedFd from_dir, BorrowedFd to_dir, const std::string& name,
               const struct stat& st) {
  const UniqueFd in(check(::openat(from_dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC),
                          "open \"{}\"", name));
  const int out_fd = ::openat(to_dir.get(), name.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out_fd < 0 && errno == EEXIST) {
    return;
  }
  const UniqueFd out(check(out_fd, "create \"{}\"", name));
  std::string buffer(128 * 1024, '\0');
  for (;;) {
    const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    check(n, "read \"{}\"", name);
    if (n == 0) {
      break;
    }
    write_all(out, std::string_view(buffer.data(), static_cast<std::size_t>(n)), name);
  }
  copy_attributes(out, st, name);
}

void copy_symlink(BorrowedFd from_dir, BorrowedFd to_dir, const std::string& name,
                  const struct stat& st) {
  std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
  const ssize_t n = check(::readlinkat(from_dir.get(), name.c_str(), target.data(), target.size()),
                          "readlink \"{}\"", name);
  target.resize(static_cast<std::size_t>(n));
  if (::symlinkat(target.c_str(), to_dir.get(), name.c_str()) != 0) {
    if (errno == EEXIST) {
      return;
    }
    throw Error(errno, fmt::format("symlink \"{}\"", name));
  }
  check(::fchownat(to_dir.get(), name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW),
        "chown \"{}\"", name);
  const std::array<timespec, 2> times{st.st_atim, st.st_mtim};
  check(::utimensat(to_dir.get(), name.c_str(), times.data(), AT_SYMLINK_NOFOLLOW),
        "set times of \"{}\"", name);
}

UniqueFd open_directory(BorrowedFd parent, const std::string& name) {
  return UniqueFd(
      check(::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
            "open directory \"{}\"", name));
}

}  // namespace

bool directory_empty(BorrowedFd dir) {
  return entries(dir).empty();
}

void copy_tree(BorrowedFd from, BorrowedFd to) {
  for (const auto& name : entries(from)) {
    struct stat st {};
    check(::fstatat(from.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW), "stat \"{}\"", name);
    if (S_ISREG(st.st_mode)) {
      copy_file(from, to, name, st);
    } else if (S_ISLNK(st.st_mode)) {
      copy_symlink(from, to, name, st);
    } else if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(to.get(), name.c_str(), 0700) != 0) {
        if (errno == EEXIST) {
          continue;
        }
        throw Error(errno, fmt::format("create directory \"{}\"", name));
      }
      const UniqueFd sub_to = open_directory(to, name);
      copy_tree(open_directory(from, name), sub_to);
      copy_attributes(sub_to, st, name);
    }
  }
}

}  // namespace gctool::fs
