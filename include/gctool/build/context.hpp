// The build context: the directory COPY and ADD read from, its .dockerignore, and the sources an
// instruction names in it (globs, no way out of the context), hashed by content for the cache.
#pragma once

#include <sys/stat.h>

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
// under each (not times), excluded names left out.
std::string hash_sources(const std::vector<Source>& sources, const IgnoreMatcher& ignore);

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
