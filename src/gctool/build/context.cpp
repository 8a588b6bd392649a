#include "gctool/build/context.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <regex>
#include <set>
#include <span>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "gctool/core/atomic_file.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/core/text.hpp"
#include "gctool/image/sha256.hpp"

namespace fs = std::filesystem;

namespace gctool::build {
namespace {

std::string pattern_regex(std::string_view p) {
  std::string out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        ++i;
        if (i + 1 < p.size() && p[i + 1] == '/') {
          ++i;
          out += "(.*/)?";
        } else {
          out += ".*";
        }
      } else {
        out += "[^/]*";
      }
    } else if (c == '?') {
      out += "[^/]";
    } else if (c == '[') {
      const auto end = p.find(']', i + 1);
      if (end == std::string_view::npos) {
        throw_invalid(".dockerignore: unterminated '[' in \"{}\"", p);
      }
      std::string cls(p.substr(i + 1, end - i - 1));
      if (!cls.empty() && cls.front() == '!') {
        cls.front() = '^';
      }
      out += "[" + cls + "]";
      i = end;
    } else if (c == '\\' && i + 1 < p.size()) {
      out += '\\';
      out += p[++i];
    } else if (std::string_view(".^$|()+{}").find(c) != std::string_view::npos) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    out += out.empty() ? p : "/" + p;
  }
  return out;
}

bool has_glob(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

struct stat lstat_or_throw(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) {
    throw_errno("lstat {}", p);
  }
  return st;
}

std::string child_rel(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : rel + "/" + name;
}

std::vector<std::string> sorted_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void copy_file_data(const fs::path& from, const fs::path& to, mode_t mode) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) {
    throw_errno("open {}", from);
  }
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!out) {
    throw_errno("create {}", to);
  }
  for (;;) {
    const ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS) {
        throw_errno("copy {} to {}", from, to);
      }
      // Fallback across filesystems that refuse copy_file_range.
      std::array<char, 65536> buf{};
      for (;;) {
        const ssize_t r = ::read(in.get(), buf.data(), buf.size());
        if (r <= 0) {
          check(r, "read {}", from);
          return;
        }
        for (ssize_t done = 0; done < r;) {
          done += check(::write(out.get(), buf.data() + done, static_cast<std::size_t>(r - done)),
                        "write {}", to);
        }
      }
    }
  }
}

void set_times(const fs::path& p, const struct stat& st) {
  const std::array<timespec, 2> times{st.st_mtim, st.st_mtim};
  check(::utimensat(AT_FDCWD, p.c_str(), times.data(), AT_SYMLINK_NOFOLLOW), "set times of {}", p);
}

// An excluded directory is still walked when an exception may bring back something under it.
bool skipped(const IgnoreMatcher& ignore, const std::string& rel, const fs::path& path) {
  if (ignore.empty() || !ignore.excluded(rel)) {
    return false;
  }
  std::error_code ec;
  return !ignore.has_exceptions() || !fs::is_directory(fs::symlink_status(path, ec));
}

void copy_entry(const fs::path& from, const struct stat& st, const fs::path& to,
                const std::string& rel, const IgnoreMatcher& ignore, const CopyOptions& o);

void copy_children(const fs::path& from, const fs::path& to, const std::string& rel,
                   const IgnoreMatcher& ignore, const CopyOptions& o) {
  for (const auto& name : sorted_entries(from)) {
    const std::string r = child_rel(rel, name);
    const fs::path child = from / name;
    if (skipped(ignore, r, child)) {
      continue;
    }
    copy_entry(child, lstat_or_throw(child), to / name, r, ignore, o);
    std::error_code ec;
    if (!ignore.empty() && ignore.excluded(r) && fs::is_empty(to / name, ec)) {
      fs::remove(to / name, ec);  // walked for its exceptions, none matched
    }
  }
}

void copy_entry(const fs::path& from, const struct stat& st, const fs::path& to,
                const std::string& rel, const IgnoreMatcher& ignore, const CopyOptions& o) {
  const mode_t mode = o.chmod >= 0 ? static_cast<mode_t>(o.chmod) : (st.st_mode & 07777);
  if (S_ISDIR(st.st_mode)) {
    struct stat existing {};
    if (::lstat(to.c_str(), &existing) == 0 && !S_ISDIR(existing.st_mode)) {
      fs::remove(to);
    }
    if (::mkdir(to.c_str(), 0700) != 0 && errno != EEXIST) {
      throw_errno("mkdir {}", to);
    }
    copy_children(from, to, rel, ignore, o);
    check(::chmod(to.c_str(), mode), "chmod {}", to);
    check(::lchown(to.c_str(), o.uid, o.gid), "chown {}", to);
    set_times(to, st);
    return;
  }
  struct stat existing {};
  if (::lstat(to.c_str(), &existing) == 0) {
    fs::remove_all(to);
  }
  if (S_ISREG(st.st_mode)) {
    copy_file_data(from, to, 0600);
    check(::chmod(to.c_str(), mode), "chmod {}", to);
  } else if (S_ISLNK(st.st_mode)) {
    const fs::path target = fs::read_symlink(from);
    check(::symlink(target.c_str(), to.c_str()), "symlink {}", to);
  } else {
    return;  // devices, fifos and sockets are not copied
  }
  check(::lchown(to.c_str(), o.uid, o.gid), "chown {}", to);
  set_times(to, st);
}

// The names in the open directory dir, sorted (readdir gives the filesystem's order).
std::vector<std::string> sorted_names(BorrowedFd dir, const fs::path& path) {
  // fdopendir owns the fd it is given, and reads from its offset: a new open of the directory.
  const int fd = ::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = fd < 0 ? nullptr : ::fdopendir(fd);
  if (d == nullptr) {
    const int err = errno;
    if (fd >= 0) {
      ::close(fd);
    }
    throw Error(err, fmt::format("open directory {}", path));
  }
  const ScopeExit close_dir([d] { ::closedir(d); });
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  if (errno != 0) {
    throw_errno("read directory {}", path);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Hashes the entry name of the directory dir (path on the host, rel in the context), looked up
// relative to dir: a tree of thousands of files costs one short lookup each, not a walk of its
// whole path.
void hash_entry(image::Sha256& h, BorrowedFd dir, const char* name, const fs::path& path,
                const std::string& rel, const IgnoreMatcher& ignore, FileHashes& files) {
  struct stat st {};
  check(::fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW), "lstat {}", path);
  // NULs as separators: a name may hold any other byte. (In a format string they would end it.)
  std::string head = rel;
  head += '\0';
  head += fmt::format("{:o}", st.st_mode);
  head += '\0';
  head += std::to_string(st.st_size);
  head += '\0';
  h.update(head);
  if (S_ISREG(st.st_mode)) {
    const FileDigest digest = files.digest(path, st);
    h.update(std::as_bytes(std::span(digest)));
  } else if (S_ISLNK(st.st_mode)) {
    h.update(fs::read_symlink(path).string());
  } else if (S_ISDIR(st.st_mode)) {
    const UniqueFd sub(::openat(dir.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) {
      throw_errno("open directory {}", path);
    }
    for (const auto& child : sorted_names(sub.borrow(), path)) {
      const std::string r = child_rel(rel, child);
      const fs::path child_path = path / child;
      if (!skipped(ignore, r, child_path)) {
        hash_entry(h, sub.borrow(), child.c_str(), child_path, r, ignore, files);
      }
    }
  }
}

}  // namespace

IgnoreMatcher::IgnoreMatcher(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = text.size();
    }
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    if (line.empty() || line.starts_with('#')) {
      continue;
    }
    Pattern p;
    if (line.starts_with('!')) {
      p.exception = true;
      line.remove_prefix(1);
    }
    std::string cleaned;
    while (line.starts_with('/')) {
      line.remove_prefix(1);
    }
    if (!clean_relative(line, cleaned) || cleaned.empty()) {
      continue;  // "..", "." or "/" would name the context itself or above: Docker skips them
    }
    p.regex = std::regex(pattern_regex(cleaned), std::regex::optimize);
    patterns_.push_back(std::move(p));
  }
}

bool IgnoreMatcher::excluded(std::string_view rel) const {
  bool out = false;
  const std::string path(rel);
  for (const auto& p : patterns_) {
    const std::regex& re = p.regex;
    bool match = std::regex_match(path, re);
    // A pattern that matches a parent directory matches everything under it.
    for (auto slash = path.find('/'); !match && slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      match = std::regex_match(path.substr(0, slash), re);
    }
    if (match) {
      out = !p.exception;
    }
  }
  return out;
}

bool clean_relative(std::string_view path, std::string& out) {
  std::vector<std::string> parts;
  const std::vector<std::string> in = path_components(path);
  for (const auto& part : in) {
    if (part == ".") {
      continue;
    }
    if (part == "..") {
      if (parts.empty()) {
        return false;
      }
      parts.pop_back();
    } else {
      parts.push_back(part);
    }
  }
  out = join(parts);
  return true;
}

namespace {

// Follows the symlinks of rel (components relative to root) inside root; throws when one leads
// out of it. Returns the resolved relative path.
std::string resolve_inside(const fs::path& root, const std::string& rel, std::string_view spec) {
  std::vector<std::string> todo = path_components(rel);
  std::reverse(todo.begin(), todo.end());
  std::vector<std::string> done;
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part == "." || part.empty()) {
      continue;
    }
    if (part == "..") {
      if (done.empty()) {
        throw_invalid("{}: forbidden path outside the build context", spec);
      }
      done.pop_back();
      continue;
    }
    done.push_back(part);
    const fs::path p = root / join(done);
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
      continue;
    }
    if (++links > 40) {
      throw_invalid("{}: too many levels of symbolic links", spec);
    }
    const std::string target = fs::read_symlink(p).string();
    if (target.starts_with('/')) {
      throw_invalid("{}: forbidden path outside the build context (symlink {} -> {})", spec,
                    join(done), target);
    }
    done.pop_back();
    const std::vector<std::string> more = path_components(target);
    // Check that the target does not climb above the root from where the link is.
    std::size_t depth = done.size();
    for (const auto& m : more) {
      if (m == "..") {
        if (depth == 0) {
          throw_invalid("{}: forbidden path outside the build context (symlink {} -> {})", spec,
                        join(done) + (done.empty() ? "" : "/") + part, target);
        }
        --depth;
      } else if (m != ".") {
        ++depth;
      }
    }
    for (auto it = more.rbegin(); it != more.rend(); ++it) {
      todo.push_back(*it);
    }
  }
  return join(done);
}

}  // namespace

std::vector<Source> find_sources(const fs::path& root, std::string_view spec,
                                 const IgnoreMatcher& ignore) {
  std::string rel;
  std::string_view trimmed = spec;
  while (trimmed.starts_with('/')) {
    trimmed.remove_prefix(1);
  }
  if (!clean_relative(trimmed, rel)) {
    throw_invalid("{}: forbidden path outside the build context", spec);
  }
  std::vector<std::string> candidates;
  if (!has_glob(rel)) {
    candidates.push_back(rel);
  } else {
    const std::vector<std::string> parts = path_components(rel);
    std::vector<std::string> level{""};
    for (const auto& part : parts) {
      std::vector<std::string> next;
      for (const auto& base : level) {
        if (!has_glob(part)) {
          next.push_back(child_rel(base, part));
          continue;
        }
        const fs::path dir = root / resolve_inside(root, base, spec);
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
          continue;
        }
        for (const auto& name : sorted_entries(dir)) {
          if (::fnmatch(part.c_str(), name.c_str(), FNM_PERIOD) == 0) {
            next.push_back(child_rel(base, name));
          }
        }
      }
      level = std::move(next);
    }
    candidates = std::move(level);
  }
  std::vector<Source> out;
  for (const auto& c : candidates) {
    if (!c.empty() && !ignore.empty() && ignore.excluded(c)) {
      continue;
    }
    const std::string resolved = resolve_inside(root, c, spec);
    const fs::path host = resolved.empty() ? root : root / resolved;
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) {
      continue;
    }
    out.push_back({host, resolved});
  }
  if (out.empty()) {
    throw_invalid("{}: not found in the build context{}", spec,
                  has_glob(rel) ? " (no file matches the pattern)" : "");
  }
  return out;
}

std::string hash_sources(const std::vector<Source>& sources, const IgnoreMatcher& ignore,
                         FileHashes& files) {
  image::Sha256 h;
  for (const auto& s : sources) {
    h.update(fmt::format("source {}\n", s.rel));
    hash_entry(h, BorrowedFd(AT_FDCWD), s.host.c_str(), s.host, s.rel, ignore, files);
  }
  return h.hex();
}

void copy_source(const Source& source, const fs::path& to, const IgnoreMatcher& ignore,
                 const CopyOptions& options) {
  const struct stat st = lstat_or_throw(source.host);
  if (S_ISDIR(st.st_mode)) {
    copy_children(source.host, to, source.rel, ignore, options);
  } else {
    copy_entry(source.host, st, to, source.rel, ignore, options);
  }
}

bool IgnoreMatcher::has_exceptions() const {
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [](const Pattern& p) { return p.exception; });
}

namespace {

// Bump when the record layout or what a digest covers changes.
constexpr std::string_view kFileHashesMagic = "gctool-file-hashes 1\n";
constexpr std::size_t kFileHashesHeader = kFileHashesMagic.size();
static_assert(std::is_trivially_copyable_v<FileHashes::Entry> && sizeof(FileHashes::Entry) == 88);

// Entries beyond the ones a build used: room for a few contexts of tens of thousands of files.
constexpr std::size_t kMaxOtherEntries = std::size_t{1} << 18;

// A file changed less than this before the build started may change again within the same
// timestamp tick (the kernel's coarse clock) without its times moving: it is hashed, not kept.
constexpr std::int64_t kSettleNs = 1'000'000'000;

auto key_of(const FileHashes::Entry& e) {
  return std::tie(e.dev, e.ino, e.size, e.mtime_s, e.mtime_ns, e.ctime_s, e.ctime_ns);
}

bool key_less(const FileHashes::Entry& a, const FileHashes::Entry& b) {
  return key_of(a) < key_of(b);
}

FileHashes::Entry entry_of(const struct stat& st) {
  FileHashes::Entry e;
  e.dev = st.st_dev;
  e.ino = st.st_ino;
  e.size = static_cast<std::uint64_t>(st.st_size);
  e.mtime_s = st.st_mtim.tv_sec;
  e.mtime_ns = st.st_mtim.tv_nsec;
  e.ctime_s = st.st_ctim.tv_sec;
  e.ctime_ns = st.st_ctim.tv_nsec;
  return e;
}

std::int64_t ns_of(std::int64_t s, std::int64_t ns) {
  return s * 1'000'000'000 + ns;
}

bool owned_by_us(const struct stat& st) {
  return st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// The directory holding path, when it and the file (if any) are ours alone.
bool trusted_place(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.parent_path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !owned_by_us(st)) {
    return false;
  }
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT;
  }
  return S_ISREG(st.st_mode) && owned_by_us(st);
}

// The records of the file at path, sorted; none when it is missing, forged or of another format.
std::vector<FileHashes::Entry> load_entries(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || !owned_by_us(st)) {
    return {};
  }
  const std::string data = read_all(fd.borrow(), path.string());
  if (data.size() < kFileHashesHeader ||
      data.compare(0, kFileHashesHeader, kFileHashesMagic) != 0 ||
      (data.size() - kFileHashesHeader) % sizeof(FileHashes::Entry) != 0) {
    return {};
  }
  std::vector<FileHashes::Entry> out((data.size() - kFileHashesHeader) / sizeof(FileHashes::Entry));
  std::memcpy(out.data(), data.data() + kFileHashesHeader, data.size() - kFileHashesHeader);
  if (!std::is_sorted(out.begin(), out.end(), key_less)) {
    std::sort(out.begin(), out.end(), key_less);
  }
  return out;
}

}  // namespace

FileDigest digest_file(const fs::path& path, off_t size) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    throw_errno("open {}", path);
  }
  image::Sha256 h;
  // One buffer for every file of the walk: clearing 64 KiB per file cost more than reading one.
  thread_local std::array<char, 65536> buf;
  off_t total = 0;
  for (;;) {
    const ssize_t n = check(::read(fd.get(), buf.data(), buf.size()), "read {}", path);
    if (n == 0) {
      break;
    }
    h.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    total += n;
    // A short read of the whole size is the end of a regular file: no read to see 0 bytes.
    if (static_cast<std::size_t>(n) < buf.size() && total >= size) {
      break;
    }
  }
  return h.finish();
}

FileHashes::FileHashes(fs::path path) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  settled_before_ = ns_of(now.tv_sec, now.tv_nsec) - kSettleNs;
  if (!trusted_place(path)) {
    return;  // path_ stays empty: neither read nor written
  }
  entries_ = load_entries(path);
  used_.assign(entries_.size(), false);
  path_ = std::move(path);
}

FileDigest FileHashes::digest(const fs::path& path, const struct stat& st) {
  if (path_.empty()) {
    return digest_file(path, st.st_size);
  }
  Entry want = entry_of(st);
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), want, key_less);
  if (it != entries_.end() && key_of(*it) == key_of(want)) {
    used_[static_cast<std::size_t>(it - entries_.begin())] = true;
    return it->digest;
  }
  want.digest = digest_file(path, st.st_size);
  if (std::max(ns_of(want.mtime_s, want.mtime_ns), ns_of(want.ctime_s, want.ctime_ns)) <
      settled_before_) {
    added_.push_back(want);
  }
  return want.digest;
}

void FileHashes::save() {
  if (path_.empty() || added_.empty()) {
    return;
  }
  // What this build used comes first, then what the file holds now (another build, or a worker
  // of this one, may have saved since it was loaded), minus older states of the same files.
  std::vector<Entry> keep = std::move(added_);
  added_.clear();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (used_[i]) {
      keep.push_back(entries_[i]);
    }
  }
  std::set<std::pair<std::uint64_t, std::uint64_t>> files;
  for (const auto& e : keep) {
    files.emplace(e.dev, e.ino);
  }
  std::size_t others = 0;
  for (const auto& e : load_entries(path_)) {
    if (others < kMaxOtherEntries && files.emplace(e.dev, e.ino).second) {
      keep.push_back(e);
      ++others;
    }
  }
  std::sort(keep.begin(), keep.end(), key_less);
  // A file copied twice by one build was read twice.
  keep.erase(std::unique(keep.begin(), keep.end(),
                         [](const Entry& a, const Entry& b) { return key_of(a) == key_of(b); }),
             keep.end());
  std::string data(kFileHashesMagic);
  data.append(reinterpret_cast<const char*>(keep.data()), keep.size() * sizeof(Entry));
  if (trusted_place(path_)) {
    write_file_atomic(path_, data, Durability::fast, 0600);
  }
  entries_ = std::move(keep);
  used_.assign(entries_.size(), true);
}

}  // namespace gctool::build
