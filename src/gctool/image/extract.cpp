// Extraction is a decompressor and a libarchive tar reader in a row, so the uncompressed bytes can
// be hashed into the diff_id on their way to the tar reader. gzip, the compression of nearly every
// layer, is inflated with ISA-L's igzip, which took a third less CPU than zlib (behind libarchive's
// gzip filter) on this project's machines, and inflating is most of a pull's CPU; every other
// filter is a libarchive "raw" reader. Every filesystem change goes through a directory fd inside
// the layer with O_NOFOLLOW, so a symlink in the archive can never redirect a later entry outside.
#include "gctool/image/extract.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "gctool/core/error.hpp"
#include "gctool/image/sha256.hpp"

namespace gctool::image {

ByteSource fd_source(BorrowedFd fd) {
  return [fd](std::span<std::byte> buf) -> std::size_t {
    for (;;) {
      const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n >= 0) {
        return static_cast<std::size_t>(n);
      }
      if (errno != EINTR) {
        throw_errno("read archive");
      }
    }
  };
}

StreamDigest digest_stream(const ByteSource& source) {
  Sha256 hash;
  StreamDigest out;
  std::vector<std::byte> buf(1 << 16);
  while (const std::size_t n = source(buf)) {
    hash.update(std::span(buf.data(), n));
    out.bytes += n;
  }
  out.digest = "sha256:" + hash.hex();
  return out;
}

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ArchiveDeleter {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

ArchivePtr new_reader() {
  ArchivePtr a(archive_read_new());
  if (!a) {
    throw Error(ENOMEM, "archive_read_new");
  }
  return a;
}

// State shared with libarchive's C callbacks. An exception thrown by our own code inside a
// callback is parked here and rethrown once libarchive has returned.
struct Pipeline {
  const ByteSource* source = nullptr;
  const ExtractLimits* limits = nullptr;
  std::vector<std::byte> in_buf = std::vector<std::byte>(1 << 17);
  std::vector<std::byte> mid_buf = std::vector<std::byte>(1 << 17);
  Sha256 compressed_hash;
  Sha256 tar_hash;
  std::uint64_t tar_bytes = 0;
  std::size_t primed = 0;  // bytes at the start of in_buf read (and hashed) to tell the format
  bool input_end = false;
  archive* raw = nullptr;               // the decompressor of non-gzip streams
  std::unique_ptr<inflate_state> gzip;  // or gzip's
  bool gzip_end = false;                // the last gzip member is done
  std::exception_ptr failure;
};

// Reads the next bytes of the layer into buf, hashed into the blob digest; 0 at the end.
std::size_t read_input(Pipeline& p, std::span<std::byte> buf) {
  if (p.input_end) {
    return 0;
  }
  const std::size_t n = (*p.source)(buf);
  p.compressed_hash.update(buf.first(n));
  p.input_end = n == 0;
  return n;
}

la_ssize_t read_source(archive*, void* data, const void** out) {
  auto* p = static_cast<Pipeline*>(data);
  try {
    const std::size_t n = p->primed > 0 ? std::exchange(p->primed, 0) : read_input(*p, p->in_buf);
    *out = p->in_buf.data();
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    p->failure = std::current_exception();
    return -1;
  }
}

// Makes at least want bytes of input available to the inflater; false at the end of the input.
bool gzip_input(Pipeline& p, std::size_t want) {
  inflate_state& s = *p.gzip;
  while (s.avail_in < want) {
    if (s.avail_in > 0) {
      std::memmove(p.in_buf.data(), s.next_in, s.avail_in);
    }
    const std::size_t n = read_input(p, std::span(p.in_buf).subspan(s.avail_in));
    s.next_in = reinterpret_cast<std::uint8_t*>(p.in_buf.data());
    s.avail_in += static_cast<std::uint32_t>(n);
    if (n == 0) {
      return s.avail_in >= want;
    }
  }
  return true;
}

// Inflates into mid_buf; returns the byte count, 0 at the end of the stream. Concatenated gzip
// members are read as one stream, and bytes after the last member are ignored, as gzip -d and
// libarchive do (the blob digest still covers them).
std::size_t inflate_gzip(Pipeline& p) {
  inflate_state& s = *p.gzip;
  auto* const out = reinterpret_cast<std::uint8_t*>(p.mid_buf.data());
  s.next_out = out;
  s.avail_out = static_cast<std::uint32_t>(p.mid_buf.size());
  while (s.next_out == out && !p.gzip_end) {
    if (s.block_state == ISAL_BLOCK_FINISH) {
      if (!gzip_input(p, 2) || s.next_in[0] != 0x1f || s.next_in[1] != 0x8b) {
        p.gzip_end = true;
        break;
      }
      std::uint8_t* const next_in = s.next_in;
      const std::uint32_t avail_in = s.avail_in;
      isal_inflate_reset(&s);
      s.crc_flag = ISAL_GZIP;
      s.next_in = next_in;
      s.avail_in = avail_in;
      s.next_out = out;
      s.avail_out = static_cast<std::uint32_t>(p.mid_buf.size());
    }
    if (s.avail_in == 0 && !gzip_input(p, 1)) {
      throw_invalid("decompress layer: truncated gzip data");
    }
    if (const int rc = isal_inflate(&s); rc != ISAL_DECOMP_OK) {
      throw_invalid("decompress layer: {}", rc == ISAL_INCORRECT_CHECKSUM
                                                ? "gzip checksum mismatch"
                                                : fmt::format("invalid gzip data ({})", rc));
    }
  }
  return static_cast<std::size_t>(s.next_out - out);
}

// Uncompressed bytes for the tar reader, hashed and counted against the limit on the way.
la_ssize_t read_uncompressed(archive*, void* data, const void** out) {
  auto* p = static_cast<Pipeline*>(data);
  try {
    la_ssize_t n = 0;
    if (p->gzip) {
      n = static_cast<la_ssize_t>(inflate_gzip(*p));
    } else {
      n = archive_read_data(p->raw, p->mid_buf.data(), p->mid_buf.size());
      if (n < 0) {
        throw_invalid("decompress layer: {}", archive_error_string(p->raw));
      }
    }
    p->tar_bytes += static_cast<std::uint64_t>(n);
    if (p->tar_bytes > p->limits->max_bytes) {
      throw_invalid("layer is larger than the limit of {} bytes (decompression bomb?)",
                    p->limits->max_bytes);
    }
    p->tar_hash.update(std::span(p->mid_buf.data(), static_cast<std::size_t>(n)));
    *out = p->mid_buf.data();
    return n;
  } catch (...) {
    p->failure = std::current_exception();
    return -1;
  }
}

[[noreturn]] void archive_failed(Pipeline& p, archive* a, std::string_view what) {
  if (p.failure) {
    std::rethrow_exception(p.failure);
  }
  const char* msg = archive_error_string(a);
  throw_invalid("{}: {}", what, msg != nullptr ? msg : "unknown archive error");
}

// An entry's path split into components, confined to the layer: leading '/' and "." dropped,
// ".." refused (no legitimate layer needs it, and refusing beats guessing what was meant).
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    auto end = path.find('/', pos);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    const auto part = path.substr(pos, end - pos);
    if (part == "..") {
      throw_invalid("archive entry \"{}\" leaves the layer (\"..\")", path);
    }
    if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    pos = end + 1;
  }
  if (path.size() > 4096) {
    throw_invalid("archive entry path is too long ({} bytes)", path.size());
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    out += (i == 0 ? "" : "/") + parts[i];
  }
  return out;
}

UniqueFd open_dir_at(BorrowedFd parent, const std::string& name) {
  return UniqueFd(
      ::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// Removes name under parent, a whole tree if it is a directory; never follows symlinks.
void remove_at(BorrowedFd parent, const std::string& name) {
  if (::unlinkat(parent.get(), name.c_str(), 0) == 0 || errno == ENOENT) {
    return;
  }
  if (errno != EISDIR) {
    throw_errno("remove \"{}\" in layer", name);
  }
  {
    UniqueFd dir = open_dir_at(parent, name);
    if (!dir) {
      throw_errno("open \"{}\" in layer", name);
    }
    DIR* stream = ::fdopendir(::dup(dir.get()));
    if (stream == nullptr) {
      throw_errno("read directory \"{}\" in layer", name);
    }
    std::vector<std::string> children;
    while (const dirent* d = ::readdir(stream)) {
      const std::string_view child = d->d_name;
      if (child != "." && child != "..") {
        children.emplace_back(child);
      }
    }
    ::closedir(stream);
    for (const auto& child : children) {
      remove_at(dir, child);
    }
  }
  check(::unlinkat(parent.get(), name.c_str(), AT_REMOVEDIR), "remove directory \"{}\" in layer",
        name);
}

class Extractor {
 public:
  Extractor(BorrowedFd root, const ExtractLimits& limits) : root_(root), limits_(limits) {}

  void entry(archive* a, archive_entry* e) {
    if (++entries_ > limits_.max_entries) {
      throw_invalid("layer has more than {} entries", limits_.max_entries);
    }
    const char* raw_path = archive_entry_pathname(e);
    if (raw_path == nullptr) {
      raw_path = archive_entry_pathname_utf8(e);
    }
    if (raw_path == nullptr) {
      throw_invalid("archive entry without a path");
    }
    path_ = raw_path;
    auto parts = split_path(path_);
    if (parts.empty()) {
      // "./": the layer's root directory itself.
      if (archive_entry_filetype(e) == AE_IFDIR) {
        apply_dir_metadata(root_, e, parts);
      }
      return;
    }
    const std::string name = parts.back();
    parts.pop_back();
    if (name.starts_with(kWhiteoutPrefix)) {
      whiteout(parts, name);
      return;
    }
    const BorrowedFd parent = parent_dir(parts);
    if (const char* link = archive_entry_hardlink(e); link != nullptr) {
      hardlink(parent, name, link);
      return;
    }
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        directory(parent, name, e, parts);
        break;
      case AE_IFREG:
        regular(a, parent, name, e);
        break;
      case AE_IFLNK:
        symlink(parent, name, e);
        break;
      case AE_IFIFO:
        node(parent, name, e, S_IFIFO, 0);
        break;
      case AE_IFCHR:
        // Only the overlay whiteout (0/0); a layer has no business shipping real devices.
        if (archive_entry_rdevmajor(e) == 0 && archive_entry_rdevminor(e) == 0) {
          node(parent, name, e, S_IFCHR, 0);
        }
        break;
      default:
        break;
    }
  }

  // Directory mtimes last: creating entries inside a directory changes its mtime.
  void finish() {
    for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
      UniqueFd dir = open_path(it->first);
      if (dir) {
        check(::futimens(dir.get(), it->second.data()), "set times of \"{}\" in layer",
              join(it->first, it->first.size()));
      }
    }
  }

  std::uint64_t size() const { return size_; }
  std::uint64_t entries() const { return entries_; }

 private:
  // The directory at parts (relative to the root), created 0755 where missing. Symlinks and
  // non-directories on the way are refused; the last one is cached since entries come grouped.
  BorrowedFd parent_dir(const std::vector<std::string>& parts) {
    if (parts.empty()) {
      return root_;
    }
    if (cached_ && cached_parts_ == parts) {
      return cached_;
    }
    UniqueFd current;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const BorrowedFd base = i == 0 ? root_ : current.borrow();
      UniqueFd next = open_dir_at(base, parts[i]);
      if (!next && errno == ENOENT) {
        if (::mkdirat(base.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
          throw_errno("create directory \"{}\" in layer", join(parts, i + 1));
        }
        next = open_dir_at(base, parts[i]);
        if (next) {
          check(::fchmod(next.get(), 0755), "chmod \"{}\" in layer", join(parts, i + 1));
        }
      }
      if (!next) {
        if (errno == ELOOP || errno == ENOTDIR) {
          throw_invalid("archive entry \"{}\" goes through \"{}\", which is not a directory", path_,
                        join(parts, i + 1));
        }
        throw_errno("open directory \"{}\" in layer", join(parts, i + 1));
      }
      current = std::move(next);
    }
    cached_ = std::move(current);
    cached_parts_ = parts;
    return cached_;
  }

  // Opens an existing directory without creating anything; invalid fd when it is gone.
  UniqueFd open_path(const std::vector<std::string>& parts) {
    UniqueFd current(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
    for (const auto& part : parts) {
      current = open_dir_at(current, part);
      if (!current) {
        return current;
      }
    }
    return current;
  }

  void forget_cache() {
    cached_.reset();
    cached_parts_.clear();
  }

  // Makes room for a new entry: a later entry replaces an earlier one, except that a directory
  // over a directory merges.
  void clear(BorrowedFd parent, const std::string& name, bool keep_dir) {
    struct stat st {};
    if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return;
    }
    if (keep_dir && S_ISDIR(st.st_mode)) {
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      forget_cache();
    }
    remove_at(parent, name);
  }

  void whiteout(const std::vector<std::string>& parts, const std::string& name) {
    const BorrowedFd parent = parent_dir(parts);
    if (name == kOpaqueMarker) {
      check(::fsetxattr(parent.get(), "trusted.overlay.opaque", "y", 1, 0),
            "mark \"{}\" opaque in layer", join(parts, parts.size()));
      return;
    }
    if (name.starts_with(kWhiteoutMetaPrefix)) {
      return;  // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing for overlay.
    }
    const std::string target = name.substr(kWhiteoutPrefix.size());
    if (target.empty() || target == "." || target == "..") {
      throw_invalid("archive entry \"{}\" is not a valid whiteout", path_);
    }
    clear(parent, target, false);
    check(::mknodat(parent.get(), target.c_str(), S_IFCHR | 0, ::makedev(0, 0)),
          "create whiteout \"{}\" in layer", path_);
  }

  void hardlink(BorrowedFd parent, const std::string& name, const char* link) {
    auto target = split_path(link);
    if (target.empty()) {
      throw_invalid("archive entry \"{}\" is a hardlink to the layer root", path_);
    }
    const std::string target_name = target.back();
    target.pop_back();
    // The target's directory is opened by the same confined walk, so the link can only name a
    // file that this layer already holds.
    UniqueFd target_dir = open_path(target);
    if (!target_dir) {
      throw_invalid("archive entry \"{}\" links to \"{}\", which is not in the layer", path_, link);
    }
    struct stat st {};
    if (::fstatat(target_dir.get(), target_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        S_ISDIR(st.st_mode)) {
      throw_invalid("archive entry \"{}\" links to \"{}\", which is not a file in the layer", path_,
                    link);
    }
    clear(parent, name, false);
    check(::linkat(target_dir.get(), target_name.c_str(), parent.get(), name.c_str(), 0),
          "link \"{}\" to \"{}\" in layer", path_, link);
  }

  void directory(BorrowedFd parent, const std::string& name, archive_entry* e,
                 std::vector<std::string> parts) {
    clear(parent, name, true);
    if (::mkdirat(parent.get(), name.c_str(), 0700) != 0 && errno != EEXIST) {
      throw_errno("create directory \"{}\" in layer", path_);
    }
    UniqueFd dir = open_dir_at(parent, name);
    if (!dir) {
      throw_errno("open directory \"{}\" in layer", path_);
    }
    parts.push_back(name);
    apply_dir_metadata(dir, e, std::move(parts));
  }

  void apply_dir_metadata(BorrowedFd dir, archive_entry* e, std::vector<std::string> parts) {
    owner_and_mode(dir, e);
    xattrs(dir, e);
    dir_times_.emplace_back(std::move(parts), times(e));
  }

  void regular(archive* a, BorrowedFd parent, const std::string& name, archive_entry* e) {
    clear(parent, name, false);
    UniqueFd file(::openat(parent.get(), name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file) {
      throw_errno("create \"{}\" in layer", path_);
    }
    const void* block = nullptr;
    std::size_t length = 0;
    la_int64_t offset = 0;
    for (;;) {
      const int rc = archive_read_data_block(a, &block, &length, &offset);
      if (rc == ARCHIVE_EOF) {
        break;
      }
      if (rc < ARCHIVE_WARN) {
        const char* msg = archive_error_string(a);
        throw_invalid("read \"{}\" from archive: {}", path_, msg != nullptr ? msg : "error");
      }
      write_all(file, static_cast<const char*>(block), length, offset);
    }
    const auto size = archive_entry_size(e);
    if (size > 0) {
      // Sparse files end in a hole that no data block covers.
      check(::ftruncate(file.get(), size), "truncate \"{}\" in layer", path_);
      size_ += static_cast<std::uint64_t>(size);
    }
    owner_and_mode(file, e);
    xattrs(file, e);
    const auto ts = times(e);
    check(::futimens(file.get(), ts.data()), "set times of \"{}\" in layer", path_);
  }

  void write_all(const UniqueFd& file, const char* data, std::size_t length, la_int64_t offset) {
    while (length > 0) {
      const ssize_t n = ::pwrite(file.get(), data, length, offset);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        throw_errno("write \"{}\" in layer", path_);
      }
      data += n;
      length -= static_cast<std::size_t>(n);
      offset += n;
    }
  }

  void symlink(BorrowedFd parent, const std::string& name, archive_entry* e) {
    const char* target = archive_entry_symlink(e);
    if (target == nullptr) {
      target = archive_entry_symlink_utf8(e);
    }
    if (target == nullptr) {
      throw_invalid("archive entry \"{}\" is a symlink without a target", path_);
    }
    clear(parent, name, false);
    check(::symlinkat(target, parent.get(), name.c_str()), "create symlink \"{}\" in layer", path_);
    check(::fchownat(parent.get(), name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                     static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW),
          "chown \"{}\" in layer", path_);
    const auto ts = times(e);
    check(::utimensat(parent.get(), name.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW),
          "set times of \"{}\" in layer", path_);
  }

  void node(BorrowedFd parent, const std::string& name, archive_entry* e, mode_t type, dev_t dev) {
    clear(parent, name, false);
    check(::mknodat(parent.get(), name.c_str(), type | 0600, dev), "create \"{}\" in layer", path_);
    check(::fchownat(parent.get(), name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                     static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW),
          "chown \"{}\" in layer", path_);
    // mknodat honours the umask; set the archive's permission bits by path (no symlink here:
    // the node was just created by us in a directory fd nobody else writes).
    check(::fchmodat(parent.get(), name.c_str(), archive_entry_perm(e) & 07777, 0),
          "chmod \"{}\" in layer", path_);
    const auto ts = times(e);
    check(::utimensat(parent.get(), name.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW),
          "set times of \"{}\" in layer", path_);
  }

  // chown before chmod: chown clears set-id bits.
  void owner_and_mode(BorrowedFd fd, archive_entry* e) {
    check(::fchown(fd.get(), static_cast<uid_t>(archive_entry_uid(e)),
                   static_cast<gid_t>(archive_entry_gid(e))),
          "chown \"{}\" in layer", path_);
    check(::fchmod(fd.get(), archive_entry_perm(e) & 07777), "chmod \"{}\" in layer", path_);
  }

  // Extended attributes (file capabilities, SELinux labels) as archived, except overlay's own:
  // an archive must not be able to forge redirects, metacopy or opaque markers.
  void xattrs(BorrowedFd fd, archive_entry* e) {
    if (archive_entry_xattr_reset(e) == 0) {
      return;
    }
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      if (std::string_view(name).starts_with("trusted.overlay.")) {
        continue;
      }
      check(::fsetxattr(fd.get(), name, value, size, 0), "set xattr {} on \"{}\" in layer", name,
            path_);
    }
  }

  static std::array<timespec, 2> times(archive_entry* e) {
    timespec mtime{archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    timespec atime = archive_entry_atime_is_set(e)
                         ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)}
                         : mtime;
    return {atime, mtime};
  }

  BorrowedFd root_;
  const ExtractLimits& limits_;
  std::string path_;  // the current entry's path as archived, for messages
  UniqueFd cached_;
  std::vector<std::string> cached_parts_;
  std::vector<std::pair<std::vector<std::string>, std::array<timespec, 2>>> dir_times_;
  std::uint64_t size_ = 0;
  std::uint64_t entries_ = 0;
};

}  // namespace

ExtractedLayer extract_layer(const ByteSource& source, BorrowedFd layer_dir,
                             const ExtractLimits& limits) {
  Pipeline p;
  p.source = &source;
  p.limits = &limits;

  // The first bytes tell gzip from the rest.
  while (p.primed < 2) {
    const std::size_t n = read_input(p, std::span(p.in_buf).subspan(p.primed));
    if (n == 0) {
      break;
    }
    p.primed += n;
  }
  ArchivePtr raw;
  if (p.primed >= 2 && p.in_buf[0] == std::byte{0x1f} && p.in_buf[1] == std::byte{0x8b}) {
    p.gzip = std::make_unique<inflate_state>();
    isal_inflate_init(p.gzip.get());
    p.gzip->crc_flag = ISAL_GZIP;
    p.gzip->next_in = reinterpret_cast<std::uint8_t*>(p.in_buf.data());
    p.gzip->avail_in = static_cast<std::uint32_t>(std::exchange(p.primed, 0));
  } else {
    raw = new_reader();
    archive_read_support_filter_all(raw.get());
    archive_read_support_format_raw(raw.get());
    if (archive_read_open(raw.get(), &p, nullptr, read_source, nullptr) != ARCHIVE_OK) {
      archive_failed(p, raw.get(), "open layer");
    }
    archive_entry* raw_entry = nullptr;
    const int raw_rc = archive_read_next_header(raw.get(), &raw_entry);
    if (raw_rc == ARCHIVE_EOF) {
      throw_invalid("layer archive is empty");
    }
    if (raw_rc < ARCHIVE_WARN) {
      archive_failed(p, raw.get(), "open layer");
    }
    p.raw = raw.get();
  }

  ArchivePtr tar = new_reader();
  archive_read_support_format_tar(tar.get());
  if (archive_read_open(tar.get(), &p, nullptr, read_uncompressed, nullptr) != ARCHIVE_OK) {
    archive_failed(p, tar.get(), "read layer");
  }
  Extractor extractor(layer_dir, limits);
  for (;;) {
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(tar.get(), &entry);
    if (rc == ARCHIVE_EOF) {
      break;
    }
    if (rc < ARCHIVE_WARN) {
      archive_failed(p, tar.get(), "read layer");
    }
    try {
      extractor.entry(tar.get(), entry);
    } catch (...) {
      // A limit or read failure inside our callback surfaces as libarchive's generic data error;
      // report the cause instead.
      if (p.failure) {
        std::rethrow_exception(p.failure);
      }
      throw;
    }
  }
  extractor.finish();
  // The tar reader stops at the end-of-archive marker; the diff_id covers the whole stream, and
  // the blob digest every byte of the input.
  const void* unused = nullptr;
  while (read_uncompressed(tar.get(), &p, &unused) > 0) {
  }
  if (p.failure) {
    std::rethrow_exception(p.failure);
  }
  while (read_input(p, p.in_buf) > 0) {
  }
  ExtractedLayer out;
  out.diff_id = "sha256:" + p.tar_hash.hex();
  out.digest = "sha256:" + p.compressed_hash.hex();
  out.size = extractor.size();
  out.tar_bytes = p.tar_bytes;
  out.entries = extractor.entries();
  return out;
}

}  // namespace gctool::image
