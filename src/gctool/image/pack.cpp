// Every file is opened with O_NOFOLLOW relative to its directory fd and described from fstat of
// that fd, so a symlink (or a rename racing with a running container) can never make us read a
// file outside the tree.
#include "gctool/image/pack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <fmt/std.h>

#include "archive_ptr.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/image/sha256.hpp"

namespace fsys = std::filesystem;

namespace gctool::image {
namespace {

constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

bool is_whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

std::optional<struct stat> try_lstat_at(BorrowedFd dir, const std::string& name,
                                        const std::string& path) {
  struct stat st {};
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw_errno("stat \"{}\"", path);
  }
  return st;
}

UniqueFd open_subdir(BorrowedFd dir, const std::string& name) {
  return UniqueFd(
      ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

std::vector<std::string> sorted_names(BorrowedFd dir, const std::string& path) {
  DIR* stream = ::fdopendir(::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0));
  if (stream == nullptr) {
    throw_errno("read directory \"{}\"", path);
  }
  ::rewinddir(stream);
  std::vector<std::string> names;
  while (const dirent* d = ::readdir(stream)) {
    const std::string_view name = d->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_opaque(BorrowedFd dir) {
  char value = 0;
  return ::fgetxattr(dir.get(), "trusted.overlay.opaque", &value, 1) == 1 && value == 'y';
}

// The extended attributes of fd to archive, sorted by name: all but overlay's own bookkeeping.
// Redirects and metacopy stubs would need the lower layers to make sense: refused.
std::vector<std::pair<std::string, std::string>> xattrs_of(BorrowedFd fd, const std::string& path) {
  std::string names(4096, '\0');
  ssize_t n = ::flistxattr(fd.get(), names.data(), names.size());
  if (n < 0 && errno == ERANGE) {
    names.resize(static_cast<std::size_t>(
        check(::flistxattr(fd.get(), nullptr, 0), "list xattrs of \"{}\"", path)));
    n = ::flistxattr(fd.get(), names.data(), names.size());
  }
  if (n < 0) {
    if (errno == ENOTSUP) {
      return {};
    }
    throw_errno("list xattrs of \"{}\"", path);
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t pos = 0; pos < static_cast<std::size_t>(n);) {
    const std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.starts_with(kOverlayXattrPrefix)) {
      if (name == "trusted.overlay.redirect" || name == "trusted.overlay.metacopy") {
        throw_invalid("\"{}\" uses overlayfs {}, which gctool cannot pack", path,
                      name.substr(kOverlayXattrPrefix.size()));
      }
      continue;
    }
    std::string value(256, '\0');
    ssize_t len = ::fgetxattr(fd.get(), name.c_str(), value.data(), value.size());
    if (len < 0 && errno == ERANGE) {
      value.resize(static_cast<std::size_t>(check(::fgetxattr(fd.get(), name.c_str(), nullptr, 0),
                                                  "read xattr {} of \"{}\"", name, path)));
      len = ::fgetxattr(fd.get(), name.c_str(), value.data(), value.size());
    }
    if (len < 0) {
      if (errno == ENODATA) {
        continue;
      }
      throw_errno("read xattr {} of \"{}\"", name, path);
    }
    value.resize(static_cast<std::size_t>(len));
    out.emplace_back(name, std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A tar stream written to an fd (or nowhere), hashed on the way.
class TarOut {
 public:
  explicit TarOut(BorrowedFd out) : out_(out), writer_(archive_write_new()) {
    if (!writer_) {
      throw Error(ENOMEM, "archive_write_new");
    }
    archive_write_set_format_pax_restricted(writer_.get());
    archive_write_set_bytes_in_last_block(writer_.get(), 1);
    check_rc(archive_write_open(writer_.get(), this, nullptr, &TarOut::write_cb, nullptr));
  }
  // libarchive holds a pointer to this object.
  TarOut(const TarOut&) = delete;
  TarOut& operator=(const TarOut&) = delete;

  // Writes name of dir (described by st) as path. Returns the directory's fd for a directory,
  // to walk it; an invalid fd otherwise. False when the entry vanished before it was opened.
  bool entry(BorrowedFd dir, const std::string& name, const struct stat& lst,
             const std::string& path, UniqueFd* dir_out) {
    struct stat st = lst;
    UniqueFd fd;
    std::string link_target;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      const int flags = S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY;
      fd = UniqueFd(::openat(dir.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) {
        if (errno == ENOENT) {
          return false;
        }
        throw_errno("open \"{}\"", path);
      }
      check(::fstat(fd.get(), &st), "stat \"{}\"", path);
      if ((st.st_mode & S_IFMT) != (lst.st_mode & S_IFMT)) {
        return false;  // replaced meanwhile by something else: the next pack sees it
      }
    } else if (S_ISLNK(st.st_mode)) {
      link_target.resize(PATH_MAX);
      const ssize_t n =
          ::readlinkat(dir.get(), name.c_str(), link_target.data(), link_target.size());
      if (n < 0) {
        if (errno == ENOENT || errno == EINVAL) {
          return false;
        }
        throw_errno("read symlink \"{}\"", path);
      }
      link_target.resize(static_cast<std::size_t>(n));
    } else if (!S_ISFIFO(st.st_mode)) {
      return false;  // devices and sockets: nothing an image carries
    }

    auto e = new_archive_entry();
    archive_entry_set_pathname(e.get(), S_ISDIR(st.st_mode) ? (path + "/").c_str() : path.c_str());
    archive_entry_set_filetype(e.get(), st.st_mode & S_IFMT);
    archive_entry_set_perm(e.get(), st.st_mode & 07777);
    archive_entry_set_uid(e.get(), owner_ ? owner_->uid : st.st_uid);
    archive_entry_set_gid(e.get(), owner_ ? owner_->gid : st.st_gid);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    archive_entry_set_size(e.get(), 0);
    if (S_ISLNK(st.st_mode)) {
      archive_entry_set_symlink(e.get(), link_target.c_str());
    }
    const std::pair key{st.st_dev, st.st_ino};
    bool copy = false;
    if (S_ISREG(st.st_mode)) {
      if (auto it = links_.find(key); st.st_nlink > 1 && it != links_.end()) {
        archive_entry_set_hardlink(e.get(), it->second.c_str());
      } else {
        if (st.st_nlink > 1) {
          links_[key] = path;
        }
        archive_entry_set_size(e.get(), st.st_size);
        copy = true;
      }
    }
    if (fd) {
      for (const auto& [xname, value] : xattrs_of(fd, path)) {
        archive_entry_xattr_add_entry(e.get(), xname.c_str(), value.data(), value.size());
      }
    }
    header(e.get());
    if (copy) {
      copy_data(fd, static_cast<std::uint64_t>(st.st_size), path);
    }
    if (S_ISDIR(st.st_mode) && dir_out != nullptr) {
      *dir_out = std::move(fd);
    }
    return true;
  }

  // An empty file with fixed metadata: the AUFS form of a whiteout, which every loader reads.
  void marker(const std::string& path) {
    auto e = new_archive_entry();
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0);
    archive_entry_set_size(e.get(), 0);
    archive_entry_set_mtime(e.get(), 0, 0);
    header(e.get());
  }

  void close() { check_rc(archive_write_close(writer_.get())); }

  // Every entry from now on gets this owner instead of the file's.
  void set_owner(const Owner& owner) { owner_ = owner; }

  std::string digest() { return "sha256:" + hash_.hex(); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  static la_ssize_t write_cb(archive*, void* self_ptr, const void* buf, size_t n) {
    auto* self = static_cast<TarOut*>(self_ptr);
    try {
      const std::string_view data(static_cast<const char*>(buf), n);
      if (self->out_) {
        write_all(self->out_, data, "tar");
      }
      self->hash_.update(data);
      self->bytes_ += n;
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      self->failure_ = std::current_exception();
      return -1;
    }
  }

  void check_rc(int rc) {
    if (failure_) {
      std::rethrow_exception(failure_);
    }
    if (rc < ARCHIVE_WARN) {
      throw_invalid("write tar: {}", archive_error_string(writer_.get()));
    }
  }

  void header(archive_entry* e) { check_rc(archive_write_header(writer_.get(), e)); }

  // Exactly size bytes, as the header says, even when a running container changes the file:
  // libarchive pads a short file with zeros.
  void copy_data(const UniqueFd& fd, std::uint64_t size, const std::string& path) {
    std::vector<char> buf(1 << 17);
    while (size > 0) {
      const ssize_t n = ::read(fd.get(), buf.data(), std::min<std::uint64_t>(buf.size(), size));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      check(n, "read \"{}\"", path);
      if (n == 0) {
        return;
      }
      if (archive_write_data(writer_.get(), buf.data(), static_cast<std::size_t>(n)) < 0) {
        check_rc(ARCHIVE_FATAL);
      }
      size -= static_cast<std::uint64_t>(n);
    }
  }

  BorrowedFd out_;
  ArchiveWriterPtr writer_;
  Sha256 hash_;
  std::uint64_t bytes_ = 0;
  std::exception_ptr failure_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::optional<Owner> owner_;
};

UniqueFd open_root(const fsys::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open {}", dir);
  }
  return fd;
}

// One layer in overlay form, whiteouts turned into AUFS entries.
void pack_dir(TarOut& tar, BorrowedFd dir, const std::string& prefix) {
  for (const auto& name : sorted_names(dir, prefix)) {
    const std::string path = prefix + name;
    const auto st = try_lstat_at(dir, name, path);
    if (!st) {
      continue;
    }
    if (is_whiteout(*st)) {
      tar.marker(prefix + ".wh." + name);
      continue;
    }
    UniqueFd child;
    if (!tar.entry(dir, name, *st, path, &child) || !child) {
      continue;
    }
    if (is_opaque(child)) {
      tar.marker(path + "/.wh..wh..opq");
    }
    pack_dir(tar, child, path + "/");
  }
}

// The directories that make up one merged directory, top first: the stack ends below an opaque
// directory.
void pack_merged_dir(TarOut& tar, const std::vector<UniqueFd>& stack, const std::string& prefix) {
  std::map<std::string, std::size_t> first;  // name -> the topmost layer that has it
  for (std::size_t i = 0; i < stack.size(); ++i) {
    for (auto& name : sorted_names(stack[i], prefix)) {
      first.emplace(std::move(name), i);
    }
  }
  for (const auto& [name, top] : first) {
    const std::string path = prefix + name;
    const auto st = try_lstat_at(stack[top], name, path);
    if (!st || is_whiteout(*st)) {
      continue;
    }
    std::vector<UniqueFd> below;
    below.emplace_back();
    if (!tar.entry(stack[top], name, *st, path, &below.front()) || !below.front()) {
      continue;
    }
    for (std::size_t i = top + 1; i < stack.size() && !is_opaque(below.back()); ++i) {
      const auto lower = try_lstat_at(stack[i], name, path);
      if (!lower) {
        continue;
      }
      if (!S_ISDIR(lower->st_mode)) {
        break;  // a file or whiteout ends the directory's history
      }
      UniqueFd fd = open_subdir(stack[i], name);
      if (!fd) {
        break;
      }
      below.push_back(std::move(fd));
    }
    pack_merged_dir(tar, below, path + "/");
  }
}

}  // namespace

PackedLayer pack_layer(const fsys::path& dir, const fsys::path& tmp_dir) {
  UniqueFd file(::open(tmp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!file) {
    throw_errno("create temporary file in {}", tmp_dir);
  }
  TarOut tar(file);
  pack_dir(tar, open_root(dir), "");
  tar.close();
  check(::lseek(file.get(), 0, SEEK_SET), "rewind layer tar");
  return PackedLayer{std::move(file), tar.digest(), tar.bytes()};
}

std::string layer_diff_id(const fsys::path& dir) {
  TarOut tar{BorrowedFd()};
  pack_dir(tar, open_root(dir), "");
  tar.close();
  return tar.digest();
}

void pack_entry(BorrowedFd dir, const std::string& name, const std::string& as, BorrowedFd out,
                const std::optional<Owner>& owner) {
  TarOut tar(out);
  if (owner) {
    tar.set_owner(*owner);
  }
  const auto st = try_lstat_at(dir, name, name);
  if (!st) {
    throw Error(ENOENT, fmt::format("no such file or directory: \"{}\"", name));
  }
  if (as.empty()) {
    if (!S_ISDIR(st->st_mode)) {
      throw_invalid("\"{}\" is not a directory", name);
    }
    pack_dir(tar, open_subdir(dir, name), "");
  } else {
    UniqueFd child;
    if (tar.entry(dir, name, *st, as, &child) && child) {
      pack_dir(tar, child, as + "/");
    }
  }
  tar.close();
}

void pack_merged(const std::vector<fsys::path>& layers, BorrowedFd out) {
  std::vector<UniqueFd> stack;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    stack.push_back(open_root(*it));
    if (is_opaque(stack.back())) {
      break;
    }
  }
  TarOut tar(out);
  pack_merged_dir(tar, stack, "");
  tar.close();
}

}  // namespace gctool::image
