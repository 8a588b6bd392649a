// LogReader: the container's output reproduced from the log, with docker logs' options.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "gctool/container/log_reader.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/core/file_util.hpp"
#include "test_support.hpp"

using gctool::container::container_log_path;
using gctool::container::LogDriver;
using gctool::container::LogOptions;
using gctool::container::LogReader;
using gctool::container::LogReadOptions;
using gctool::container::LogSink;
using gctool::container::LogStream;
using gctool::container::LogWriter;

namespace {

struct CaptureSink final : LogSink {
  void write(LogStream stream, std::string_view bytes) override {
    (stream == LogStream::Stdout ? out : err).append(bytes);
  }
  std::string out;
  std::string err;
};

CaptureSink read_log(const std::filesystem::path& path, LogReadOptions options = {}) {
  CaptureSink sink;
  LogReader reader(path, options, sink);
  reader.read_existing();
  return sink;
}

timespec at(time_t seconds) {
  return timespec{1767323045 + seconds, 0};
}

std::string numbered_lines(int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) {
    text += fmt::format("line {}\n", i);
  }
  return text;
}

}  // namespace

TEST_CASE("a 1 MiB line without newline comes back byte for byte") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  std::string line(1024 * 1024, 'x');
  for (std::size_t i = 0; i < line.size(); i += 777) {
    line[i] = static_cast<char>('a' + i % 26);
  }
  {
    LogWriter writer(path, {}, 4096);
    for (std::size_t pos = 0; pos < line.size(); pos += 1000) {
      writer.write(LogStream::Stdout, std::string_view(line).substr(pos, 1000));
    }
  }
  const auto sink = read_log(path);
  CHECK(sink.out.size() == line.size());
  CHECK(sink.out == line);
  CHECK(sink.err.empty());
}

TEST_CASE("interleaved stdout and stderr go back to their own streams") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  {
    LogWriter writer(path);
    writer.write(LogStream::Stdout, "a\n");
    writer.write(LogStream::Stderr, "b\n");
    writer.write(LogStream::Stdout, "par");
    writer.write(LogStream::Stderr, "warn");
    writer.write(LogStream::Stdout, "tial\nc\n");
    writer.write(LogStream::Stderr, "ing\n");
  }
  const auto sink = read_log(path);
  CHECK(sink.out == "a\npartial\nc\n");
  CHECK(sink.err == "b\nwarning\n");
}

TEST_CASE("a torn last record is not shown") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogWriter(path).write(LogStream::Stdout, "whole\n");
  gctool::write_file(path, gctool::read_file(path) + "2026-01-02T03:04:05.1234");
  CHECK(read_log(path).out == "whole\n");
}

TEST_CASE("tail shows the last lines") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  {
    LogWriter writer(path);
    writer.write(LogStream::Stdout, numbered_lines(0, 50000));
    writer.write(LogStream::Stderr, "err 1\n");
    writer.write(LogStream::Stdout, "joined ");
    writer.write(LogStream::Stdout, "line\nno newline");
  }
  LogReadOptions options;
  options.tail = 2;
  auto sink = read_log(path, options);
  CHECK(sink.out == "joined line\nno newline");
  CHECK(sink.err.empty());
  options.tail = 4;
  sink = read_log(path, options);
  CHECK(sink.out == "line 49999\njoined line\nno newline");
  CHECK(sink.err == "err 1\n");
  options.tail = 0;
  sink = read_log(path, options);
  CHECK(sink.out.empty());
  options.tail = 1000000;
  sink = read_log(path, options);
  CHECK(sink.out == numbered_lines(0, 50000) + "joined line\nno newline");
}

TEST_CASE("since drops lines that started earlier; timestamps prefix each line") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  {
    LogWriter writer(path);
    writer.write(LogStream::Stdout, "old\n", at(0));
    writer.write(LogStream::Stdout, "new ", at(1));
    writer.write(LogStream::Stdout, "line\n", at(2));
    writer.write(LogStream::Stderr, "later\n", at(3));
  }
  LogReadOptions options;
  options.since = std::chrono::system_clock::from_time_t(1767323045 + 1);
  auto sink = read_log(path, options);
  CHECK(sink.out == "new line\n");
  CHECK(sink.err == "later\n");

  options = {};
  options.timestamps = true;
  sink = read_log(path, options);
  CHECK(sink.out ==
        "2026-01-02T03:04:05.000000000Z old\n2026-01-02T03:04:06.000000000Z new line\n");
  CHECK(sink.err == "2026-01-02T03:04:08.000000000Z later\n");
}

TEST_CASE("the reader reads rotated files oldest first, and tail reaches into them") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogOptions options;
  options.max_size = 1000;
  options.max_files = 4;
  {
    LogWriter writer(path, options);
    for (int i = 0; i < 100; ++i) {
      writer.write(LogStream::Stdout, numbered_lines(i, i + 1));
    }
  }
  // About 20 records a file, 4 files: the last ~80 lines survive, in order.
  const auto all = read_log(path).out;
  const auto first = std::stoi(all.substr(5));
  CHECK(first > 0);
  CHECK(first < 40);
  CHECK(all == numbered_lines(first, 100));

  LogReadOptions tail;
  tail.tail = 50;
  CHECK(read_log(path, tail).out == numbered_lines(50, 100));
}

TEST_CASE("read_new picks up appended records and follows a rotation by inode") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogOptions options;
  options.max_size = 300;
  options.max_files = 3;
  LogWriter writer(path, options);
  CaptureSink sink;
  LogReader reader(path, {}, sink);
  reader.read_existing();
  CHECK_FALSE(reader.read_new());
  writer.write(LogStream::Stdout, "first\n");
  CHECK(reader.read_new());
  CHECK(sink.out == "first\n");
  // Enough records to rotate twice between two reads: .2 and .1 are read before the new log.
  writer.write(LogStream::Stdout, numbered_lines(0, 12));
  CHECK(reader.read_new());
  CHECK(sink.out == "first\n" + numbered_lines(0, 12));
  CHECK_FALSE(reader.read_new());
}

TEST_CASE("read_new waits for a log that does not exist yet") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  CaptureSink sink;
  LogReader reader(path, {}, sink);
  reader.read_existing();
  CHECK_FALSE(reader.read_new());
  LogWriter(path).write(LogStream::Stderr, "hi\n");
  CHECK(reader.read_new());
  CHECK(sink.err == "hi\n");
}

TEST_CASE("json-file: Docker's records, read back with tail, partial lines and rotation") {
  gctool::test::TempDir dir;
  const auto path = gctool::container::container_log_path(dir.path(), LogDriver::json_file);
  CHECK(path.filename() == dir.path().filename().string() + "-json.log");
  LogOptions options;
  options.driver = LogDriver::json_file;
  {
    LogWriter writer(path, options);
    writer.write(LogStream::Stdout, "hello \"world\" <&>\n\tpart", timespec{1767323045, 500000000});
    writer.write(LogStream::Stdout, "ial\n", timespec{1767323046, 0});
    writer.write(LogStream::Stderr, "oops\\n\n", timespec{1767323047, 123456789});
  }
  // Byte for byte what Docker's json-file driver writes, so that log shippers read it.
  CHECK(
      gctool::test::read_whole_file(path) ==
      "{\"log\":\"hello \\\"world\\\" \\u003c\\u0026\\u003e\\n\",\"stream\":\"stdout\","
      "\"time\":\"2026-01-02T03:04:05.5Z\"}\n"
      "{\"log\":\"\\tpart\",\"stream\":\"stdout\",\"time\":\"2026-01-02T03:04:05.5Z\"}\n"
      "{\"log\":\"ial\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-02T03:04:06Z\"}\n"
      "{\"log\":\"oops\\\\n\\n\",\"stream\":\"stderr\",\"time\":\"2026-01-02T03:04:07.123456789Z\"}"
      "\n");
  const auto all = read_log(path);
  CHECK(all.out == "hello \"world\" <&>\n\tpartial\n");
  CHECK(all.err == "oops\\n\n");
  LogReadOptions tail;
  tail.tail = 1;
  CHECK(read_log(path, tail).err == "oops\\n\n");
  CHECK(read_log(path, tail).out == "");
  tail.tail = 2;
  CHECK(read_log(path, tail).out == "\tpartial\n");
  LogReadOptions stamped;
  stamped.timestamps = true;
  CHECK(read_log(path, stamped).err == "2026-01-02T03:04:07.123456789Z oops\\n\n");

  // Rotation keeps Docker's names: <id>-json.log.1 is the newest rotated file.
  gctool::test::TempDir rotated;
  const auto log = gctool::container::container_log_path(rotated.path(), LogDriver::json_file);
  options.max_size = 200;
  options.max_files = 3;
  {
    LogWriter writer(log, options);
    writer.write(LogStream::Stdout, numbered_lines(0, 20), at(0));
  }
  CHECK(std::filesystem::exists(gctool::container::rotated_log_path(log, 1)));
  CHECK(std::filesystem::file_size(log) <= 200);
  CHECK(read_log(log).out.ends_with(numbered_lines(17, 20)));
}

TEST_CASE("json-file records with unicode escapes and foreign lines parse or are skipped") {
  std::string message;
  const auto record = gctool::container::parse_json_log_record(
      R"({"log":"caf\u00e9 \ud83d\ude00 \/x\n","stream":"stderr","time":"2026-01-02T03:04:05Z"})",
      message);
  REQUIRE(record);
  CHECK(record->stream == LogStream::Stderr);
  CHECK_FALSE(record->partial);
  CHECK(record->message == "café 😀 /x");
  CHECK(record->timestamp == "2026-01-02T03:04:05Z");
  for (const char* bad : {"{", R"({"log":"x"})", R"({"log":"x\q","stream":"stdout","time":"t"})",
                          R"({"log":1,"stream":"stdout","time":"t"})"}) {
    CHECK_FALSE(gctool::container::parse_json_log_record(bad, message));
  }
}
