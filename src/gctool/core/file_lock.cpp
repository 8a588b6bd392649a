#include "gctool/core/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include <fmt/std.h>

#include "gctool/core/error.hpp"

namespace gctool {

std::optional<FileLock> FileLock::acquire(const std::filesystem::path& lock_file, int operation) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600));
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

FileLock FileLock::exclusive(const std::filesystem::path& lock_file) {
  return std::move(*acquire(lock_file, LOCK_EX));
}

FileLock FileLock::shared(const std::filesystem::path& lock_file) {
  return std::move(*acquire(lock_file, LOCK_SH));
}

std::optional<FileLock> FileLock::try_exclusive(const std::filesystem::path& lock_file) {
  return acquire(lock_file, LOCK_EX | LOCK_NB);
}

std::optional<FileLock> FileLock::try_shared(const std::filesystem::path& lock_file) {
  return acquire(lock_file, LOCK_SH | LOCK_NB);
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    unlock();
    fd_ = std::move(other.fd_);
  }
  return *this;
}

void FileLock::unlock() noexcept {
  if (fd_.valid()) {
    // Unlock explicitly: a child forked meanwhile may share the open file description, and
    // closing our copy alone would leave the lock held by it.
    ::flock(fd_.get(), LOCK_UN);
    fd_.reset();
  }
}

}  // namespace gctool
