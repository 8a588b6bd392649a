// The log coroutines on the io_uring loop: pipes streamed into the log, and a follower that keeps
// up with a writer across rotations until told the container stopped.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "gctool/container/log_stream.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/sync_wait.hpp"
#include "test_support.hpp"

using gctool::UniqueFd;
using gctool::container::container_log_path;
using gctool::container::LogOptions;
using gctool::container::LogReader;
using gctool::container::LogSink;
using gctool::container::LogStream;
using gctool::container::LogWriter;

namespace {

struct Pipe {
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read_end = UniqueFd(fds[0]);
    write_end = UniqueFd(fds[1]);
  }
  UniqueFd read_end;
  UniqueFd write_end;
};

struct CaptureSink final : LogSink {
  void write(LogStream stream, std::string_view bytes) override {
    (stream == LogStream::Stdout ? out : err).append(bytes);
  }
  std::string out;
  std::string err;
};

}  // namespace

TEST_CASE("stream_to_log writes what two pipes carry, each as its own stream") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogWriter writer(path);
  Pipe out;
  Pipe err;
  std::string big(300 * 1024, 'y');
  big += "\nend without newline";
  std::thread producer([&] {
    gctool::write_all(out.write_end, "hello\n", "stdout pipe");
    gctool::write_all(err.write_end, "problem\n", "stderr pipe");
    gctool::write_all(out.write_end, big, "stdout pipe");
    out.write_end.reset();
    err.write_end.reset();
  });
  gctool::io::Loop loop;
  loop.spawn(gctool::container::stream_to_log(loop, err.read_end, LogStream::Stderr, writer));
  gctool::io::sync_wait(
      loop, gctool::container::stream_to_log(loop, out.read_end, LogStream::Stdout, writer));
  loop.run();
  producer.join();

  CaptureSink sink;
  LogReader reader(path, {}, sink);
  reader.read_existing();
  CHECK(sink.out == "hello\n" + big);
  CHECK(sink.err == "problem\n");
}

TEST_CASE("follow_log keeps up with a rotating log until the container stops") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogOptions options;
  options.max_size = 4096;
  options.max_files = 1000;  // nothing is dropped, so the follower must see every line
  LogWriter writer(path, options);
  writer.write(LogStream::Stdout, "before\n");

  std::atomic<bool> running{true};
  std::thread producer([&] {
    for (int i = 0; i < 3000; ++i) {
      writer.write(i % 7 == 0 ? LogStream::Stderr : LogStream::Stdout, fmt::format("line {}\n", i));
      if (i % 100 == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    running = false;
  });

  CaptureSink sink;
  LogReader reader(path, {}, sink);
  reader.read_existing();
  gctool::io::Loop loop;
  gctool::io::sync_wait(
      loop, gctool::container::follow_log(
                loop, reader, [&] { return running.load(); }, std::chrono::milliseconds(5)));
  producer.join();
  CHECK(std::filesystem::exists(gctool::container::rotated_log_path(path, 10)));

  std::string expected_out = "before\n";
  std::string expected_err;
  for (int i = 0; i < 3000; ++i) {
    (i % 7 == 0 ? expected_err : expected_out) += fmt::format("line {}\n", i);
  }
  CHECK(sink.out == expected_out);
  CHECK(sink.err == expected_err);
}

TEST_CASE("a log read while it rotates shows every line once, in order") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogOptions options;
  options.max_size = 4096;
  options.max_files = 1000;
  LogWriter writer(path, options);
  writer.write(LogStream::Stdout, "line 0\n");
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 1; i < 20000; ++i) {
      writer.write(LogStream::Stdout, fmt::format("line {}\n", i));
    }
    done = true;
  });
  // Each read is what `logs` without -f shows: the lines so far, none twice, none missing,
  // however the files were renamed while it opened them.
  int reads = 0;
  std::string wrong;
  while (!done && wrong.empty()) {
    CaptureSink sink;
    LogReader reader(path, {}, sink);
    reader.read_existing();
    ++reads;
    std::istringstream lines(sink.out);
    std::string line;
    for (int expected = 0; std::getline(lines, line); ++expected) {
      if (line != fmt::format("line {}", expected)) {
        wrong = fmt::format("read {}: \"{}\" where \"line {}\" belongs", reads, line, expected);
        break;
      }
    }
  }
  producer.join();
  INFO(wrong);
  CHECK(wrong.empty());
  CHECK(reads > 0);
}

TEST_CASE("stream_to_log keeps draining the pipe when the log cannot be written") {
  // /dev/full fails every write with ENOSPC, as a full disk does.
  LogWriter writer("/dev/full");
  Pipe out;
  std::thread producer([&] {
    // Far more than a pipe holds: this only finishes if the reader keeps reading.
    gctool::write_all(out.write_end, std::string(1024 * 1024, 'x'), "stdout pipe");
    out.write_end.reset();
  });
  gctool::io::Loop loop;
  int err = 0;
  try {
    gctool::io::sync_wait(
        loop, gctool::container::stream_to_log(loop, out.read_end, LogStream::Stdout, writer));
  } catch (const gctool::Error& e) {
    err = e.errno_value();
  }
  producer.join();
  CHECK(err == ENOSPC);
}
