#include "gctool/container/log_stream.hpp"

#include <exception>
#include <memory>
#include <span>
#include <string_view>

#include "gctool/core/error.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sleep.hpp"

namespace gctool::container {

io::Task<void> stream_to_log(io::Loop& loop, BorrowedFd pipe, LogStream stream, LogWriter& writer) {
  const auto buffer = std::make_unique_for_overwrite<char[]>(LogWriter::kReadBufferSize);
  const std::span<char> space(buffer.get(), LogWriter::kReadBufferSize);
  std::exception_ptr failure;
  while (true) {
    const std::size_t n = co_await io::read(loop, pipe, space);
    if (n == 0) {
      break;
    }
    try {
      writer.write(stream, std::string_view(buffer.get(), n));
    } catch (const Error&) {
      // Keep draining: a container blocked on a full pipe is worse than a gap in its log.
      if (!failure) {
        failure = std::current_exception();
      }
    }
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
}

io::Task<void> follow_log(io::Loop& loop, LogReader& reader, std::function<bool()> still_running,
                          std::chrono::milliseconds interval) {
  bool stopping = false;
  while (true) {
    const bool got = reader.read_new();
    if (!got) {
      if (stopping) {
        co_return;
      }
      stopping = !still_running();
    }
    co_await io::sleep(loop, interval);
  }
}

}  // namespace gctool::container
