#include "gctool/fs/disk_usage.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>
#include <utility>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::fs {
namespace {

class Walker {
 public:
  explicit Walker(dev_t dev) : dev_(dev) {}

  std::uint64_t walk(UniqueFd dir) {
    std::uint64_t total = 0;
    DIR* stream = ::fdopendir(dir.get());
    if (stream == nullptr) {
      return 0;
    }
    [[maybe_unused]] const int owned_by_stream = dir.release();
    while (const dirent* d = ::readdir(stream)) {
      const std::string name = d->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      struct stat st {};
      if (::fstatat(::dirfd(stream), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev_) {
          continue;
        }
        UniqueFd child(::openat(::dirfd(stream), name.c_str(),
                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (child) {
          total += walk(std::move(child));
        }
      } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
        if (st.st_nlink > 1 && !seen_.emplace(st.st_dev, st.st_ino).second) {
          continue;
        }
        total += static_cast<std::uint64_t>(st.st_size);
      }
    }
    ::closedir(stream);
    return total;
  }

 private:
  dev_t dev_;
  std::set<std::pair<dev_t, ino_t>> seen_;
};

}  // namespace

std::uint64_t tree_size(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return 0;
    }
    throw_errno("open {}", dir.string());
  }
  struct stat st {};
  check(::fstat(fd.get(), &st), "stat {}", dir.string());
  return Walker(st.st_dev).walk(std::move(fd));
}

}  // namespace gctool::fs
