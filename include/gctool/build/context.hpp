// The build context: the directory COPY and ADD read from, its .dockerignore, and the sources an
// instruction names in it (globs, no way out of the context), hashed by content for the cache,
// with the digests of its files remembered between builds.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/build/dockerfile.hpp"

namespace gctool::build {

// Docker's .dockerignore: one pattern a line, '#' comments, '!' exceptions, the last matching
// pattern decides; '*', '?', '[...]' within a path component, '**' across components; a pattern
// that matches a directory excludes everything under it.
class IgnoreMatcher {
 public:
  IgnoreMatcher() = default;
  explicit IgnoreMatcher(std::string_view text);

  // rel: a path relative to the context root, '/'-separated, no "." or "..".
  bool excluded(std::string_view rel) const;
  bool empty() const { return patterns_.empty(); }
  bool has_exceptions() const;

 private:
  struct Pattern {
    std::regex regex;
    bool exception = false;
  };
  std::vector<Pattern> patterns_;
};

// Content digests of context files remembered by what lstat says about them, so that a rebuild
// of an unchanged context stats its files instead of reading them (as git's index and BuildKit's
// content hash cache). A file is known by device, inode, size, mtime and ctime to the nanosecond:
// every write, chmod or rename moves the ctime, which no program can set back, so an edit that
// keeps the size and restores the mtime is still seen.
using FileDigest = std::array<std::uint8_t, 32>;

// The SHA-256 of the regular file at path (opened without following a symlink) whose lstat gave
// size: a short read that reaches it ends the file, without a read to see 0 bytes.
FileDigest digest_file(const std::filesystem::path& path, off_t size);

class FileHashes {
 public:
  // Remembers nothing and saves nothing: every digest reads its file.
  FileHashes() = default;
  // The digests saved at path, when it is a regular file of the effective user that nobody else
  // may write (a file another user could forge is not read, nor replaced).
  explicit FileHashes(std::filesystem::path path);

  // The digest of the regular file at path whose lstat is st: remembered, or read and remembered
  // when its last change is older than a second before this object was made (one changed later
  // could change again within the same tick of the kernel's timestamp clock, times unmoved).
  FileDigest digest(const std::filesystem::path& path, const struct stat& st);

  // Writes the digests back when this build added any (atomically, 0600, without fsync: a lost
  // cache is only slower), keeping the ones it used first when there are too many.
  void save();

  struct Entry {
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_s = 0, mtime_ns = 0, ctime_s = 0, ctime_ns = 0;
    FileDigest digest{};
  };

 private:
  std::filesystem::path path_;       // empty: nothing is loaded or saved
  std::vector<Entry> entries_;       // sorted by key, as loaded
  std::vector<bool> used_;           // per loaded entry: looked up by this build
  std::vector<Entry> added_;         // digests this build read
  std::int64_t settled_before_ = 0;  // ns since the epoch: files changed since are not kept
};

// A source of COPY/ADD: a file, directory or symlink of the context (or of a stage's tree).
struct Source {
  std::filesystem::path host;  // absolute path on the host
  std::string rel;             // relative to the root it was found in
};

// The sources `spec` names under root: the path cleaned and kept inside root (`../x` refused),
// globs matched against names, symlinks of the path followed inside root only (one leading out is
// refused). Throws an invalid-input Error ("... not found", "... outside the build context").
std::vector<Source> find_sources(const std::filesystem::path& root, std::string_view spec,
                                 const IgnoreMatcher& ignore);

// A digest of what copying sources gives: names, kinds, modes, link targets and file contents
// under each (not times), excluded names left out. The contents' digests come from files, which
// reads only the files it does not remember unchanged.
std::string hash_sources(const std::vector<Source>& sources, const IgnoreMatcher& ignore,
                         FileHashes& files);

// Copies source to `to` (a host path inside a staging directory whose parent exists): a
// directory's content into the directory `to` (which must exist), a file or symlink as `to`.
// Modes and mtimes are kept; owners become uid:gid; a chmod (>= 0) replaces modes.
struct CopyOptions {
  uid_t uid = 0;
  gid_t gid = 0;
  int chmod = -1;
};
void copy_source(const Source& source, const std::filesystem::path& to, const IgnoreMatcher& ignore,
                 const CopyOptions& options);

// Normalises a path inside a root: "a/./b/../c" -> "a/c"; false when ".." climbs above it.
bool clean_relative(std::string_view path, std::string& out);

}  // namespace gctool::build
