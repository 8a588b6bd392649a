// Reading and writing file descriptors through the loop: read() and write() complete once with a
// byte count (0 from read() is end of file), write_all() repeats short writes until every byte is
// written. The buffer must stay valid until the operation completes (it does while the awaiting
// coroutine exists; destroying that coroutine cancels the operation and waits for the kernel).
// Tasks are lazy: data passed to write_all() must live until the task has finished.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <gctool/core/error.hpp>
#include <gctool/core/fd.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/operation.hpp>
#include <gctool/io/task.hpp>

namespace gctool::io {

// Offset meaning "the file position" (pipes, sockets, terminals).
inline constexpr std::uint64_t kCurrentPosition = static_cast<std::uint64_t>(-1);

struct ReadPolicy {
  using result_type = std::size_t;
  static constexpr bool kBorrowsMemory = true;
  BorrowedFd fd;
  std::span<std::byte> buffer;
  std::uint64_t offset = kCurrentPosition;

  void prepare(io_uring_sqe* sqe, detail::OpRecord&) const noexcept {
    io_uring_prep_read(sqe, fd.get(), buffer.data(), static_cast<unsigned>(buffer.size()), offset);
  }
  std::size_t complete(int res, detail::OpRecord&) const {
    return static_cast<std::size_t>(check_neg(res, "read from fd {}", fd.get()));
  }
};

struct WritePolicy {
  using result_type = std::size_t;
  static constexpr bool kBorrowsMemory = true;
  BorrowedFd fd;
  std::span<const std::byte> data;
  std::uint64_t offset = kCurrentPosition;

  void prepare(io_uring_sqe* sqe, detail::OpRecord&) const noexcept {
    io_uring_prep_write(sqe, fd.get(), data.data(), static_cast<unsigned>(data.size()), offset);
  }
  std::size_t complete(int res, detail::OpRecord&) const {
    return static_cast<std::size_t>(check_neg(res, "write to fd {}", fd.get()));
  }
};

using ReadOperation = Operation<ReadPolicy>;
using WriteOperation = Operation<WritePolicy>;

// Reads up to buffer.size() bytes; returns how many were read (0 at end of file).
inline ReadOperation read(Loop& loop, BorrowedFd fd, std::span<std::byte> buffer,
                          std::uint64_t offset = kCurrentPosition) {
  return ReadOperation(loop, ReadPolicy{fd, buffer, offset});
}
inline ReadOperation read(Loop& loop, BorrowedFd fd, std::span<char> buffer,
                          std::uint64_t offset = kCurrentPosition) {
  return read(loop, fd, std::as_writable_bytes(buffer), offset);
}

// Writes up to data.size() bytes; returns how many were written.
inline WriteOperation write(Loop& loop, BorrowedFd fd, std::span<const std::byte> data,
                            std::uint64_t offset = kCurrentPosition) {
  return WriteOperation(loop, WritePolicy{fd, data, offset});
}
inline WriteOperation write(Loop& loop, BorrowedFd fd, std::string_view data,
                            std::uint64_t offset = kCurrentPosition) {
  return write(loop, fd, std::as_bytes(std::span(data.data(), data.size())), offset);
}

// Writes all of data, continuing after short writes. Fails with EPIPE-like errors as write does;
// a write that makes no progress fails with EIO.
inline Task<void> write_all(Loop& loop, BorrowedFd fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    const std::size_t written = co_await write(loop, fd, data);
    if (written == 0) {
      throw Error(EIO, fmt::format("write to fd {}: no progress", fd.get()));
    }
    data = data.subspan(written);
  }
}
inline Task<void> write_all(Loop& loop, BorrowedFd fd, std::string_view data) {
  return write_all(loop, fd, std::as_bytes(std::span(data.data(), data.size())));
}

// Copies from `from` to `to` until end of file on `from`; returns the number of bytes copied. For
// relaying a container's stdio or streaming its output.
inline Task<std::uint64_t> relay(Loop& loop, BorrowedFd from, BorrowedFd to) {
  std::array<std::byte, 64 * 1024> buffer;
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t n = co_await read(loop, from, buffer);
    if (n == 0) {
      co_return total;
    }
    co_await write_all(loop, to, std::span<const std::byte>(buffer.data(), n));
    total += n;
  }
}

}  // namespace gctool::io
