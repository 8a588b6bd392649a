#include "gctool/container/log_tail.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "gctool/container/log_format.hpp"
#include "gctool/core/error.hpp"

namespace gctool::container {
namespace {

// Reads a file backwards one block at a time.
class BackwardScanner {
 public:
  explicit BackwardScanner(BorrowedFd fd) : fd_(fd), block_(64 * 1024) {}

  // Offset of the last '\n' before `before`, or -1.
  off_t newline_before(off_t before) {
    while (before > 0) {
      if ((before <= block_start_ || before > block_end_) && !load(before)) {
        return -1;
      }
      const char* base = block_.data();
      const auto* found = static_cast<const char*>(
          ::memrchr(base, '\n', static_cast<std::size_t>(before - block_start_)));
      if (found != nullptr) {
        return block_start_ + (found - base);
      }
      before = block_start_;
    }
    return -1;
  }

  // The first bytes of [start, end): enough for a record header.
  std::string_view head(off_t start, off_t end) {
    const auto length = static_cast<std::size_t>(std::min<off_t>(end - start, sizeof small_));
    return bytes(start, length);
  }

  // The last bytes of [start, end): enough for the fields after a json-file record's log.
  std::string_view tail(off_t start, off_t end) {
    const auto length = static_cast<std::size_t>(std::min<off_t>(end - start, sizeof small_));
    return bytes(end - static_cast<off_t>(length), length);
  }

 private:
  std::string_view bytes(off_t start, std::size_t length) {
    if (start >= block_start_ && start + static_cast<off_t>(length) <= block_end_) {
      return {block_.data() + (start - block_start_), length};
    }
    const ssize_t n = check(::pread(fd_.get(), small_, length, start), "read log");
    return {small_, static_cast<std::size_t>(n)};
  }

  // Loads the block that ends at `end`; false when the file is shorter now (truncated under us).
  bool load(off_t end) {
    block_start_ = std::max<off_t>(0, end - static_cast<off_t>(block_.size()));
    const std::size_t want = static_cast<std::size_t>(end - block_start_);
    std::size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(fd_.get(), block_.data() + got, want - got,
                                block_start_ + static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      check(n, "read log");
      if (n == 0) {
        block_start_ = block_end_ = 0;
        return false;
      }
      got += static_cast<std::size_t>(n);
    }
    block_end_ = end;
    return true;
  }

  BorrowedFd fd_;
  std::vector<char> block_;
  off_t block_start_ = 0;
  off_t block_end_ = 0;
  char small_[96];
};

}  // namespace

LogTailStart find_log_tail_start(BorrowedFd fd, off_t size, std::size_t lines, bool newest) {
  BackwardScanner scanner(fd);
  const off_t last_newline = scanner.newline_before(size);
  if (last_newline < 0) {
    return {};
  }
  LogTailStart result;
  off_t end = last_newline + 1;  // one past the '\n' of the record being looked at
  bool last_record = true;
  while (true) {
    const off_t newline = scanner.newline_before(end - 1);
    const off_t start = newline + 1;
    // A json-file record says whether it ends a line at its end, a CRI record in its header.
    const auto head = scanner.head(start, end - 1);
    std::optional<bool> partial;
    if (head.starts_with('{')) {
      partial = !json_log_record_ends_line(scanner.tail(start, end - 1));
    } else if (const auto record = parse_log_record(head)) {
      partial = record->partial;
    }
    if (partial && (!*partial || (last_record && newest))) {
      if (result.lines == lines) {
        result.offset = end;
        return result;
      }
      ++result.lines;
    }
    last_record = false;
    if (newline < 0) {
      result.offset = 0;
      return result;
    }
    end = start;
  }
}

}  // namespace gctool::container
