// Both sides of a copy are reached through directory fds: the container's paths by openat2
// confined to its root, the host's as the user named them. The source is packed as a tar under
// the name it gets at the destination, and the tar extracted by the layer extractor, which
// creates nothing outside the destination directory and follows no symlink there.
#include "gctool/container/copy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>

#include <fmt/format.h>

#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_lock.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/fs/rootfs.hpp"
#include "gctool/fs/safe_path.hpp"
#include "gctool/image/extract.hpp"
#include "gctool/image/pack.hpp"

namespace gctool::container {
namespace {

// The container's root for the time of a copy. A stopped container keeps the store lock, so
// that it cannot start (and mount its upper layer a second time) while the copy writes to it.
struct ContainerRoot {
  std::string name;
  UniqueFd fd;
  std::optional<FileLock> lock;
};

ContainerRoot open_container_root(const ContainerStore& store, std::string_view ref) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const Record record = inspect_container(store, ref);
    if (record.running()) {
      const auto& process = record.state.process;
      UniqueFd fd(::open(fmt::format("/proc/{}/root", process.pid).c_str(),
                         O_PATH | O_DIRECTORY | O_CLOEXEC));
      // Checked after opening: the pid may have been reused by then.
      if (fd && process_matches(process.pid, process.start_time)) {
        return {record.name, std::move(fd), std::nullopt};
      }
      continue;
    }
    FileLock lock = store.lock();
    const auto now = store.load(record.id);
    if (!now) {
      throw_invalid("no such container: {}", ref);
    }
    if (now->state.status == Status::running || now->state.status == Status::restarting ||
        (now->owner.pid != 0 && process_matches(now->owner.pid, now->owner.start_time))) {
      continue;  // started meanwhile: through its process
    }
    const auto dir = store.dir(now->id);
    return {now->name, fs::open_overlay(now->spec.layer_dirs, dir / "upper", dir / "work"),
            std::move(lock)};
  }
  throw_invalid("container {} keeps changing state; try again", ref);
}

// A path as Docker cleans it, and whether it asks for a directory's entries ("DIR/.") or
// insists on a directory ("DIR/").
struct CleanPath {
  std::string path;
  bool contents = false;
  bool directory = false;
};

CleanPath clean(std::string_view raw, bool in_container) {
  CleanPath out;
  std::string path(raw);
  if (path.ends_with("/.") || path == ".") {
    out.contents = true;
  }
  if (path.ends_with('/')) {
    out.directory = true;
  }
  // In the container every path is taken from its root; ".." there stops at the root.
  std::filesystem::path p = in_container && !path.starts_with('/') ? "/" + path : path;
  p = p.lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.ends_with('/')) {
    s.pop_back();
  }
  out.path = s.empty() ? "." : s;
  return out;
}

// One side of the copy: a container root (confined) or the host.
struct Side {
  BorrowedFd root;  // invalid: the host
  std::string label;

  // The path with the container's symlinks followed inside its root.
  std::string resolve(const std::string& path) const {
    if (!root) {
      return path;
    }
    const auto resolved = fs::resolve_in_root(root, path);
    return resolved.empty() ? "." : resolved;
  }

  UniqueFd open_dir(const std::string& path) const {
    if (root) {
      return fs::open_in_root(root, path, O_RDONLY | O_DIRECTORY);
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      throw_errno("open directory {}", path);
    }
    return fd;
  }

  // stat of a resolved path (following symlinks on the host); nullopt when missing.
  std::optional<struct stat> stat(const std::string& path) const {
    struct stat st {};
    const int dirfd = root ? root.get() : AT_FDCWD;
    const std::string rel = root && path.starts_with('/') ? path.substr(1) : path;
    if (::fstatat(dirfd, rel.empty() ? "." : rel.c_str(), &st, 0) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        return std::nullopt;
      }
      throw_errno("stat {}{}", label, path);
    }
    return st;
  }

  std::string describe(const std::string& path) const { return label + path; }
};

std::pair<std::string, std::string> split(const std::string& path) {
  if (path == "/" || path == ".") {
    return {path, "."};
  }
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return {".", path};
  }
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// The source: its directory, its name there, and what it is.
struct Source {
  UniqueFd parent;
  std::string name;
  struct stat st {};
  bool contents = false;
};

Source locate_source(const Side& side, std::string_view raw, const CopyOptions& options) {
  const CleanPath path = clean(raw, static_cast<bool>(side.root));
  Source source;
  source.contents = path.contents;
  auto [parent, name] = split(path.path);
  const auto missing = [&] {
    return Error::invalid(fmt::format("no such file or directory: {}", side.describe(path.path)));
  };
  try {
    source.parent = side.open_dir(parent);
  } catch (const Error& e) {
    if (e.errno_value() == ENOENT || e.errno_value() == ENOTDIR) {
      throw missing();
    }
    throw;
  }
  if (::fstatat(source.parent.get(), name.c_str(), &source.st, AT_SYMLINK_NOFOLLOW) != 0) {
    throw missing();
  }
  // -L, "LINK/" and "LINK/." name what the link points to.
  if (S_ISLNK(source.st.st_mode) && (options.follow_link || path.directory || path.contents)) {
    const std::string target = side.root ? side.resolve(path.path) : [&] {
      std::error_code ec;
      auto canonical = std::filesystem::canonical(path.path, ec);
      if (ec) {
        throw missing();
      }
      return canonical.string();
    }();
    std::tie(parent, name) = split(side.root ? "/" + target : target);
    source.parent = side.open_dir(parent);
    if (::fstatat(source.parent.get(), name.c_str(), &source.st, AT_SYMLINK_NOFOLLOW) != 0) {
      throw missing();
    }
  }
  if (name == ".") {
    source.contents = true;  // the root itself: its entries
  }
  source.name = name;
  if ((path.directory || path.contents) && !S_ISDIR(source.st.st_mode)) {
    throw Error::invalid(fmt::format("not a directory: {}", side.describe(path.path)));
  }
  return source;
}

// Where the source lands: a directory, and the name the source gets in it (empty: the source's
// entries go straight into it).
struct Destination {
  UniqueFd dir;
  std::string as;
};

Destination locate_destination(const Side& side, std::string_view raw, const Source& source) {
  const CleanPath path = clean(raw, static_cast<bool>(side.root));
  const bool source_dir = S_ISDIR(source.st.st_mode);
  const std::string resolved = side.resolve(path.path);
  const auto st = side.stat(resolved);
  if (st && S_ISDIR(st->st_mode)) {
    return {side.open_dir(resolved), source.contents ? "" : source.name};
  }
  if (st && source_dir) {
    throw_invalid("cannot overwrite non-directory {} with directory", side.describe(path.path));
  }
  if (path.directory) {
    if (st) {
      throw Error::invalid(fmt::format("not a directory: {}", side.describe(path.path)));
    }
    if (!source_dir) {
      throw Error::invalid(
          fmt::format("destination directory {} does not exist", side.describe(path.path)));
    }
  }
  const auto [parent, name] = split(resolved);
  if (name == "." || name == "..") {
    throw_invalid("cannot copy to {}", side.describe(path.path));
  }
  const auto parent_st = side.stat(parent);
  if (!parent_st || !S_ISDIR(parent_st->st_mode)) {
    throw Error::invalid(
        fmt::format("no such directory: {}", side.describe(split(path.path).first)));
  }
  return {side.open_dir(parent), name};
}

// Packs the source into a temporary file, then extracts it at the destination: the whole tar
// is read before anything is written, so a source that cannot be read leaves nothing behind.
void transfer(const ContainerStore& store, const Source& source, const Destination& destination,
              const std::optional<image::Owner>& owner) {
  UniqueFd tar(::open(store.root().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!tar) {
    throw_errno("create temporary file in {}", store.root().string());
  }
  // A directory copied under a new name carries its own metadata; into an existing directory
  // as "DIR/.", only its entries.
  image::pack_entry(source.parent, source.name, destination.as, tar, owner);
  check(::lseek(tar.get(), 0, SEEK_SET), "rewind copy tar");
  image::extract_layer(image::fd_source(tar), destination.dir);
}

}  // namespace

void copy_from_container(const ContainerStore& store, std::string_view ref, std::string_view source,
                         const std::filesystem::path& destination, const CopyOptions& options) {
  const ContainerRoot root = open_container_root(store, ref);
  const Side container{root.fd, root.name + ":"};
  const Side host{BorrowedFd(), ""};
  const Source src = locate_source(container, source, options);
  const Destination dst = locate_destination(host, destination.string(), src);
  // What lands on the host belongs to the user who copied it, as with Docker.
  transfer(store, src, dst, image::Owner{::geteuid(), ::getegid()});
}

void copy_to_container(const ContainerStore& store, const std::filesystem::path& source,
                       std::string_view ref, std::string_view destination,
                       const CopyOptions& options) {
  const Side host{BorrowedFd(), ""};
  const Source src = locate_source(host, source.string(), options);
  const ContainerRoot root = open_container_root(store, ref);
  const Side container{root.fd, root.name + ":"};
  const Destination dst = locate_destination(container, destination, src);
  transfer(store, src, dst,
           options.archive ? std::nullopt : std::optional<image::Owner>(image::Owner{0, 0}));
}

void copy_from_container_to_tar(const ContainerStore& store, std::string_view ref,
                                std::string_view source, BorrowedFd out,
                                const CopyOptions& options) {
  const ContainerRoot root = open_container_root(store, ref);
  const Side container{root.fd, root.name + ":"};
  const Source src = locate_source(container, source, options);
  image::pack_entry(src.parent, src.name, src.contents ? "" : src.name, out);
}

void copy_tar_to_container(const ContainerStore& store, BorrowedFd in, std::string_view ref,
                           std::string_view destination) {
  const ContainerRoot root = open_container_root(store, ref);
  const Side container{root.fd, root.name + ":"};
  const CleanPath path = clean(destination, true);
  const std::string resolved = container.resolve(path.path);
  const auto st = container.stat(resolved);
  if (!st) {
    throw Error::invalid(fmt::format("no such directory: {}", container.describe(path.path)));
  }
  if (!S_ISDIR(st->st_mode)) {
    throw_invalid("destination {} must be a directory", container.describe(path.path));
  }
  image::extract_layer(image::fd_source(in), container.open_dir(resolved));
}

}  // namespace gctool::container
