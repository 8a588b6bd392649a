// Finding where the last N lines of a log file (CRI or json-file records) start, reading backwards
// from its end so that `logs --tail 10` of a 1 GiB log reads a few blocks, not the whole file.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "gctool/core/fd.hpp"

namespace gctool::container {

struct LogTailStart {
  off_t offset = 0;       // where reading should start
  std::size_t lines = 0;  // lines found after offset: fewer than asked means offset is 0
};

// Scans the first `size` bytes of the log file backwards for the start of its last `lines` lines.
// A line ends with an F record (a json-file record whose log ends with a newline); in the newest
// file (`newest`) a trailing P record also ends one, as output without a final newline does. Bytes
// after the last '\n' (a torn record) do not count.
LogTailStart find_log_tail_start(BorrowedFd fd, off_t size, std::size_t lines, bool newest);

}  // namespace gctool::container
