// File descriptors: UniqueFd owns one, BorrowedFd is a non-owning view (as string_view is to
// string). APIs take BorrowedFd; ownership moves only through UniqueFd.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace gctool {

class BorrowedFd {
 public:
  constexpr BorrowedFd() noexcept = default;
  constexpr explicit BorrowedFd(int fd) noexcept : fd_(fd) {}
  constexpr int get() const noexcept { return fd_; }
  constexpr bool valid() const noexcept { return fd_ >= 0; }
  constexpr explicit operator bool() const noexcept { return valid(); }

 private:
  int fd_ = -1;
};

class UniqueFd {
 public:
  constexpr UniqueFd() noexcept = default;
  constexpr explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.fd_, -1));
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  BorrowedFd borrow() const noexcept { return BorrowedFd(fd_); }
  operator BorrowedFd() const noexcept { return BorrowedFd(fd_); }

  // Gives up ownership without closing.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  // Closes the owned fd (if any) and takes fd. errno is preserved; close is never retried on
  // EINTR because Linux releases the descriptor even then.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) {
      const int saved = errno;
      ::close(fd_);
      errno = saved;
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace gctool
