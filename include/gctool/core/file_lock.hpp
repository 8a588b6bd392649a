// An flock(2) held for the lifetime of the object: the mutual exclusion between gctool processes
// that change the same state (a container, the IPAM pool, the image store).
#pragma once

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <utility>

#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/format.hpp"

namespace gctool {

class FileLock {
 public:
  // Creates lock_file if needed (its parent directory must exist) and blocks until the lock is
  // held.
  static FileLock exclusive(const std::filesystem::path& lock_file);
  static FileLock shared(const std::filesystem::path& lock_file);

  // nullopt when another open file description holds a conflicting lock.
  static std::optional<FileLock> try_exclusive(const std::filesystem::path& lock_file);
  static std::optional<FileLock> try_shared(const std::filesystem::path& lock_file);
  // Blocks like exclusive(), but never creates the file: nullopt when it does not exist.
  static std::optional<FileLock> exclusive_if_present(const std::filesystem::path& lock_file);

  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() { unlock(); }

  // Releases the lock early; does nothing when already released or moved from.
  void unlock() noexcept;

  bool locked() const noexcept { return fd_.valid(); }
  BorrowedFd fd() const noexcept { return fd_.borrow(); }

 private:
  explicit FileLock(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  static std::optional<FileLock> acquire(const std::filesystem::path& lock_file, int operation,
                                         int open_flags = O_CREAT);

  UniqueFd fd_;
};

// The definitions of file_lock: header-only, as all of gctool::core.
inline std::optional<FileLock> FileLock::acquire(const std::filesystem::path& lock_file,
                                                 int operation, int open_flags) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY | open_flags, 0600));
  if (!fd && errno == ENOENT && (open_flags & O_CREAT) == 0) {
    return std::nullopt;
  }
  if (!fd) {
    throw_errno("open lock file {}", lock_file);
  }
  for (;;) {
    if (::flock(fd.get(), operation) == 0) {
      return FileLock(std::move(fd));
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EWOULDBLOCK && (operation & LOCK_NB) != 0) {
      return std::nullopt;
    }
    throw_errno("lock {}", lock_file);
  }
}

inline FileLock FileLock::exclusive(const std::filesystem::path& lock_file) {
  return std::move(*acquire(lock_file, LOCK_EX));
}

inline FileLock FileLock::shared(const std::filesystem::path& lock_file) {
  return std::move(*acquire(lock_file, LOCK_SH));
}

inline std::optional<FileLock> FileLock::try_exclusive(const std::filesystem::path& lock_file) {
  return acquire(lock_file, LOCK_EX | LOCK_NB);
}

inline std::optional<FileLock> FileLock::try_shared(const std::filesystem::path& lock_file) {
  return acquire(lock_file, LOCK_SH | LOCK_NB);
}

inline std::optional<FileLock> FileLock::exclusive_if_present(
    const std::filesystem::path& lock_file) {
  return acquire(lock_file, LOCK_EX, 0);
}

inline FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    unlock();
    fd_ = std::move(other.fd_);
  }
  return *this;
}

inline void FileLock::unlock() noexcept {
  if (fd_.valid()) {
    // Unlock explicitly: a child forked meanwhile may share the open file description, and
    // closing our copy alone would leave the lock held by it.
    ::flock(fd_.get(), LOCK_UN);
    fd_.reset();
  }
}

}  // namespace gctool
