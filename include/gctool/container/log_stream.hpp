// The coroutines that move log records on the io_uring loop: a supervisor streams each of the
// container's output pipes into the log, and `logs -f` follows the log as it grows.
#pragma once

#include <chrono>
#include <functional>

#include "gctool/container/attach.hpp"
#include "gctool/container/log_format.hpp"
#include "gctool/container/log_reader.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/task.hpp"

namespace gctool::container {

// Reads pipe until end of file in LogWriter::kReadBufferSize chunks and writes each chunk as
// records of `stream`. On a pipe of 256 KiB or more, while output flows (reads of 4 KiB or more),
// it waits 1 ms before the next read unless the last one filled the buffer, so that a container
// writing in small pieces costs one wake-up per large chunk instead of one per piece. Run one per
// stream on the same loop with the same writer: a chunk is formatted and written before the loop
// resumes anything else, so records never interleave. Throws when reading the pipe fails. When
// writing the log fails (disk full), it keeps reading so that the container never blocks on a full
// pipe, drops what it cannot write, and throws the first such error at end of file. With
// `attach`, each chunk then goes to the attached clients too.
io::Task<void> stream_to_log(io::Loop& loop, BorrowedFd pipe, LogStream stream, LogWriter& writer,
                             AttachServer* attach = nullptr);

// Follows a log after reader.read_existing(): every `interval` reads what was appended (across
// rotations). Once still_running() says false, finishes when an interval passes without new
// records, so that what the container wrote last is shown.
io::Task<void> follow_log(io::Loop& loop, LogReader& reader, std::function<bool()> still_running,
                          std::chrono::milliseconds interval = std::chrono::milliseconds(100));

}  // namespace gctool::container
