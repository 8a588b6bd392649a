// An flock(2) held for the lifetime of the object: the mutual exclusion between gctool processes
// that change the same state (a container, the IPAM pool, the image store).
#pragma once

#include <filesystem>
#include <optional>
#include <utility>

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
  static std::optional<FileLock> acquire(const std::filesystem::path& lock_file, int operation);

  UniqueFd fd_;
};

}  // namespace gctool
