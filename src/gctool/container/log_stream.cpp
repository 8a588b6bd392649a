#include "gctool/container/log_stream.hpp"

#include <fcntl.h>

#include <chrono>
#include <exception>
#include <memory>
#include <span>
#include <string_view>

#include "gctool/core/error.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sleep.hpp"

namespace gctool::container {
namespace {

using namespace std::chrono_literals;

// A read at least this large says that output is flowing.
constexpr std::size_t kFlowingRead = 4096;
// While output flows, how long to let it gather in the pipe before the next read.
constexpr auto kGatherDelay = 1ms;
// Only a pipe this large may be left to fill for kGatherDelay (up to 256 MB/s before the
// container blocks on it, and it is drained without a pause while reads come back full).
constexpr int kGatherPipeSize = 256 * 1024;

// Whether pipe is a pipe that holds at least kGatherPipeSize bytes (not a terminal, whose small
// buffer would throttle the container).
bool can_gather(BorrowedFd pipe) {
  return ::fcntl(pipe.get(), F_GETPIPE_SZ) >= kGatherPipeSize;
}

}  // namespace

io::Task<void> stream_to_log(io::Loop& loop, BorrowedFd pipe, LogStream stream, LogWriter& writer,
                             AttachServer* attach) {
  const auto buffer = make_log_buffer(LogWriter::kReadBufferSize);
  const std::span<char> space(buffer.get(), LogWriter::kReadBufferSize);
  const bool gather = can_gather(pipe);
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
    if (attach != nullptr) {
      co_await attach->broadcast(loop, stream, std::string_view(buffer.get(), n));
    }
    // Each read costs a wake-up of this process, which costs more than formatting and writing
    // the bytes it moves while the container writes in small pieces: while output flows, let it
    // gather in the pipe, and read again at once only when the buffer came back full.
    if (gather && n >= kFlowingRead && n < space.size()) {
      co_await io::sleep(loop, kGatherDelay);
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
