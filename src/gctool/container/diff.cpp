// The upper directory is walked by directory fds, never following a symlink; the image's
// layers are looked up with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so no name in the
// upper directory makes us look outside a layer.
#include "gctool/container/diff.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::container {
namespace {

bool is_whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

std::vector<std::string> names_in(BorrowedFd dir) {
  std::vector<std::string> names;
  DIR* stream = ::fdopendir(::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0));
  if (stream == nullptr) {
    throw_errno("read upper directory");
  }
  while (const dirent* d = ::readdir(stream)) {
    const std::string_view name = d->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  ::closedir(stream);
  return names;
}

class Differ {
 public:
  explicit Differ(const std::vector<std::filesystem::path>& layers_bottom_to_top) {
    for (auto it = layers_bottom_to_top.rbegin(); it != layers_bottom_to_top.rend(); ++it) {
      UniqueFd fd(::open(it->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!fd) {
        throw_errno("open layer {}", it->string());
      }
      lowers_.push_back(std::move(fd));
    }
  }

  // Walks dir (at path prefix in the container); true when it reported anything.
  bool walk(BorrowedFd dir, const std::string& prefix) {
    bool any = false;
    for (const auto& name : names_in(dir)) {
      const std::string path = prefix + "/" + name;
      struct stat st {};
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        continue;  // gone meanwhile (a running container)
      }
      if (is_whiteout(st)) {
        changes_.push_back({'D', path});
        any = true;
        continue;
      }
      const bool in_image = in_lower(path.substr(1));
      if (!in_image && S_ISREG(st.st_mode) && st.st_size == 0 &&
          (path == "/etc/hostname" || path == "/etc/hosts" || path == "/etc/resolv.conf")) {
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        UniqueFd child(
            ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!child) {
          continue;
        }
        char opaque = 0;
        const bool made_opaque =
            ::fgetxattr(child.get(), "trusted.overlay.opaque", &opaque, 1) == 1 && opaque == 'y';
        const bool inside = walk(child, path);
        if (!in_image) {
          changes_.push_back({'A', path});
        } else if (inside || made_opaque) {
          changes_.push_back({'C', path});
        } else {
          continue;
        }
      } else {
        changes_.push_back({in_image ? 'C' : 'A', path});
      }
      any = true;
    }
    return any;
  }

  std::vector<Change> take() {
    std::sort(changes_.begin(), changes_.end(),
              [](const Change& a, const Change& b) { return a.path < b.path; });
    return std::move(changes_);
  }

 private:
  // Whether the image shows something at rel: the topmost layer that has it decides (a
  // whiteout there hides the layers below).
  bool in_lower(const std::string& rel) const {
    for (const auto& layer : lowers_) {
      open_how how{};
      how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
      how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
      const long fd = ::syscall(SYS_openat2, layer.get(), rel.c_str(), &how, sizeof how);
      if (fd < 0) {
        continue;
      }
      const UniqueFd found(static_cast<int>(fd));
      struct stat st {};
      if (::fstat(found.get(), &st) == 0) {
        return !is_whiteout(st);
      }
    }
    return false;
  }

  std::vector<UniqueFd> lowers_;
  std::vector<Change> changes_;
};

}  // namespace

std::vector<Change> diff_container(const ContainerStore& store, std::string_view ref) {
  const Record record = inspect_container(store, ref);
  const auto upper = store.dir(record.id) / "upper";
  const UniqueFd dir(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    throw_errno("open the upper directory of container {}", record.name);
  }
  Differ differ(record.spec.layer_dirs);
  differ.walk(dir, "");
  return differ.take();
}

}  // namespace gctool::container
