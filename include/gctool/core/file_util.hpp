// Whole-file reads and writes with errors that name the path. procfs, sysfs and cgroupfs files
// report size 0, so reads go until EOF rather than trusting stat.
#pragma once

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/format.hpp"

namespace gctool {

// Reads everything from fd until EOF; `what` names the file in the error.
std::string read_all(BorrowedFd fd, std::string_view what);

// Writes all of data, continuing after short writes; `what` names the file in the error.
void write_all(BorrowedFd fd, std::string_view data, std::string_view what);

// The contents of the file. Throws Error naming the path (ENOENT when it is missing).
std::string read_file(const std::filesystem::path& path);

// The contents, or nullopt when the file does not exist (ENOENT only; other errors throw).
std::optional<std::string> try_read_file(const std::filesystem::path& path);

// Creates or truncates the file and writes data. Not atomic: see write_file_atomic for state.
void write_file(const std::filesystem::path& path, std::string_view data, mode_t mode = 0644);

// Writes data into a file that must already exist, without O_CREAT or O_TRUNC: the way to set a
// cgroupfs or procfs knob. The error names the path and the value, e.g.
// `write "max" to "/sys/fs/cgroup/x/memory.max": Invalid argument`.
void write_existing_file(const std::filesystem::path& path, std::string_view data);

// The definitions of file_util: header-only, as all of gctool::core.
namespace detail {

// -errno instead of throwing, so that try_read_file can tell ENOENT from real failures.
inline UniqueFd open_for_reading(const std::filesystem::path& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
}

// Reads to the end; describe() names what was read, called only for the error (formatting a
// path for every read was a tenth of `ps` with many containers).
template <class Describe>
std::string read_to_end(BorrowedFd fd, const Describe& describe) {
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("read {}", describe());
    }
    if (n == 0) {
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace detail

inline std::string read_all(BorrowedFd fd, std::string_view what) {
  return detail::read_to_end(fd, [&] { return what; });
}

inline void write_all(BorrowedFd fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("write {}", what);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

inline std::string read_file(const std::filesystem::path& path) {
  UniqueFd fd = detail::open_for_reading(path);
  if (!fd) {
    throw_errno("open {}", path);
  }
  return detail::read_to_end(fd, [&] { return fmt::format("{}", path); });
}

inline std::optional<std::string> try_read_file(const std::filesystem::path& path) {
  UniqueFd fd = detail::open_for_reading(path);
  if (!fd) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw_errno("open {}", path);
  }
  return detail::read_to_end(fd, [&] { return fmt::format("{}", path); });
}

inline void write_file(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode));
  if (!fd) {
    throw_errno("create {}", path);
  }
  write_all(fd, data, fmt::format("{}", path));
  check(::close(fd.release()), "close {}", path);
}

inline void write_existing_file(const std::filesystem::path& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    throw_errno("open {} to write \"{}\"", path, data);
  }
  // Kernel knobs take the value in one write and report rejection from write itself.
  write_all(fd, data, fmt::format("\"{}\" to {}", data, path));
}

}  // namespace gctool
