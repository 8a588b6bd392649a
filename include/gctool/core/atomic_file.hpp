// Atomic replacement of a file: readers see the old contents or the new, never a mix, and after a
// crash the file is one of the two. Every state write of gctool goes through here.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/format.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/core/stale_temporaries.hpp"

namespace gctool {

enum class Durability {
  durable,  // fsync the data and the directory: survives a power loss once this returns
  fast,     // rename only: atomic against crashes of the process, not of the machine
};

// Writes data to a temporary file in the same directory (so rename stays on one filesystem),
// fsyncs it, renames it over path and fsyncs the directory. The temporary file is removed on any
// failure. The file gets `mode` regardless of the umask.
void write_file_atomic(const std::filesystem::path& path, std::string_view data,
                       Durability durability = Durability::durable, mode_t mode = 0644);

// fsync of a directory: makes the names created, renamed or removed in it durable.
void fsync_directory(const std::filesystem::path& dir);

// The definitions of atomic_file: header-only, as all of gctool::core.
namespace detail {

// The temporary name of path: a dot name keeps it out of listings that look for state files.
inline constexpr std::string_view kTempInfix = ".tmp-";
inline constexpr std::size_t kTempSuffixLength = 6;  // mkostemp's XXXXXX

inline std::filesystem::path directory_of(const std::filesystem::path& path) {
  const std::filesystem::path parent = path.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

}  // namespace detail

inline void fsync_directory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open directory {}", dir);
  }
  check(::fsync(fd.get()), "fsync directory {}", dir);
}

inline void remove_stale_temporaries(const std::filesystem::path& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto infix = name.rfind(detail::kTempInfix);
    if (name.starts_with('.') && infix != std::string::npos &&
        name.size() == infix + detail::kTempInfix.size() + detail::kTempSuffixLength &&
        it->is_regular_file(ec)) {
      ::unlink(it->path().c_str());
    }
  }
}

inline void write_file_atomic(const std::filesystem::path& path, std::string_view data,
                              Durability durability, mode_t mode) {
  if (path.filename().empty()) {
    throw_invalid("cannot write a file at {}: the path names a directory", path);
  }
  const std::filesystem::path dir = detail::directory_of(path);
  std::string tmp =
      (dir / fmt::format(".{}{}XXXXXX", path.filename().string(), detail::kTempInfix)).string();
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) {
    throw_errno("create temporary file for {}", path);
  }
  const std::filesystem::path tmp_path(tmp);
  ScopeExit remove_tmp([&tmp_path] { ::unlink(tmp_path.c_str()); });

  check(::fchmod(fd.get(), mode), "chmod {}", tmp_path);
  write_all(fd, data, fmt::format("{}", tmp_path));
  if (durability == Durability::durable) {
    check(::fsync(fd.get()), "fsync {}", tmp_path);
  }
  check(::close(fd.release()), "close {}", tmp_path);
  // Renaming over an existing file makes ext4 (auto_da_alloc) start the new file's writeback
  // at once (measured on the benchmarks' 2-CPU VM: 1-5 ms per state write). Exchanging the two
  // names is as atomic and skips that; the temporary name then holds the old contents, which
  // remove_tmp unlinks. Only a regular file is exchanged: anything else fails (or not) as rename
  // decides.
  struct stat target {};
  const bool exchanged =
      ::lstat(path.c_str(), &target) == 0 && S_ISREG(target.st_mode) &&
      ::renameat2(AT_FDCWD, tmp_path.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0;
  if (!exchanged) {
    check(::rename(tmp_path.c_str(), path.c_str()), "rename {} to {}", tmp_path, path);
    remove_tmp.release();
  }
  if (durability == Durability::durable) {
    fsync_directory(dir);
  }
}

}  // namespace gctool
