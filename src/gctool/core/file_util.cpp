#include "gctool/core/file_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/std.h>

#include "gctool/core/error.hpp"

namespace gctool {

namespace {

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

}  // namespace

std::string read_all(BorrowedFd fd, std::string_view what) {
  return read_to_end(fd, [&] { return what; });
}

void write_all(BorrowedFd fd, std::string_view data, std::string_view what) {
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

namespace {

// -errno instead of throwing, so that try_read_file can tell ENOENT from real failures.
UniqueFd open_for_reading(const std::filesystem::path& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
}

}  // namespace

std::string read_file(const std::filesystem::path& path) {
  UniqueFd fd = open_for_reading(path);
  if (!fd) {
    throw_errno("open {}", path);
  }
  return read_to_end(fd, [&] { return fmt::format("{}", path); });
}

std::optional<std::string> try_read_file(const std::filesystem::path& path) {
  UniqueFd fd = open_for_reading(path);
  if (!fd) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw_errno("open {}", path);
  }
  return read_to_end(fd, [&] { return fmt::format("{}", path); });
}

void write_file(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode));
  if (!fd) {
    throw_errno("create {}", path);
  }
  write_all(fd, data, fmt::format("{}", path));
  check(::close(fd.release()), "close {}", path);
}

void write_existing_file(const std::filesystem::path& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    throw_errno("open {} to write \"{}\"", path, data);
  }
  // Kernel knobs take the value in one write and report rejection from write itself.
  write_all(fd, data, fmt::format("\"{}\" to {}", data, path));
}

}  // namespace gctool
