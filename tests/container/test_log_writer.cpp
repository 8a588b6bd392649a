// LogWriter: the records it writes for chunks of output, and rotation by size.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "gctool/container/log_format.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/core/file_util.hpp"
#include "test_support.hpp"

using gctool::container::container_log_path;
using gctool::container::LogOptions;
using gctool::container::LogStream;
using gctool::container::LogWriter;
using gctool::container::parse_log_record;
using gctool::container::rotated_log_path;

namespace {

constexpr timespec kTime{1767323045, 123456789};
constexpr const char* kStamp = "2026-01-02T03:04:05.123456789Z";

std::string out(const char* tag, const std::string& message) {
  return fmt::format("{} stdout {} {}\n", kStamp, tag, message);
}

}  // namespace

TEST_CASE("full lines become F records, a piece without newline a P record") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogWriter writer(path);
  writer.write(LogStream::Stdout, "hello\n\nworld", kTime);
  writer.write(LogStream::Stdout, " and more\n", kTime);
  writer.write(LogStream::Stderr, "oops\n", kTime);
  const auto expected = out("F", "hello") + out("F", "") + out("P", "world") +
                        out("F", " and more") + fmt::format("{} stderr F oops\n", kStamp);
  CHECK(gctool::read_file(path) == expected);
  CHECK(writer.file_size() == static_cast<std::int64_t>(expected.size()));
}

TEST_CASE("a line longer than the buffer is split into P records") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  // Room for a header and 10 bytes of message.
  LogWriter writer(path, {}, gctool::container::kLogHeaderSize + 11);
  writer.write(LogStream::Stdout, "0123456789abcdefghij0123\n", kTime);
  CHECK(gctool::read_file(path) ==
        out("P", "0123456789") + out("P", "abcdefghij") + out("F", "0123"));
}

TEST_CASE("long lines mixed with short ones keep their order and bytes") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogWriter writer(path, {}, 256);
  std::string chunk;
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string line(i % 3 == 0 ? 5000 + i : i, static_cast<char>('a' + i % 26));
    chunk += line + "\n";
    expected += out("F", line);
  }
  chunk += std::string(3000, 'z');
  expected += out("P", std::string(3000, 'z'));
  writer.write(LogStream::Stdout, chunk, kTime);
  CHECK(gctool::read_file(path) == expected);
  CHECK(writer.file_size() == static_cast<std::int64_t>(expected.size()));
}

TEST_CASE("the writer appends to an existing log") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogWriter(path).write(LogStream::Stdout, "one\n", kTime);
  LogWriter writer(path);
  CHECK(writer.file_size() == static_cast<std::int64_t>(out("F", "one").size()));
  writer.write(LogStream::Stdout, "two\n", kTime);
  CHECK(gctool::read_file(path) == out("F", "one") + out("F", "two"));
}

TEST_CASE("rotation keeps max-file files of at most max-size bytes") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  const std::int64_t record_size = static_cast<std::int64_t>(out("F", "line 000").size());
  LogOptions options;
  options.max_size = record_size * 4;
  options.max_files = 3;
  LogWriter writer(path, options);
  for (int i = 0; i < 30; ++i) {
    writer.write(LogStream::Stdout, fmt::format("line {:03}\n", i), kTime);
  }
  // 30 records, 4 per file: the last 2 in container.log, 4 in .1 and .2, the rest dropped.
  CHECK(gctool::read_file(path) == out("F", "line 028") + out("F", "line 029"));
  CHECK(gctool::read_file(rotated_log_path(path, 1)).starts_with(out("F", "line 024")));
  CHECK(gctool::read_file(rotated_log_path(path, 2)).starts_with(out("F", "line 020")));
  CHECK_FALSE(std::filesystem::exists(rotated_log_path(path, 3)));
  for (int index = 0; index < 3; ++index) {
    CHECK(std::filesystem::file_size(rotated_log_path(path, index)) <=
          static_cast<std::uintmax_t>(options.max_size));
  }
}

TEST_CASE("a chunk is rotated between records, never inside one") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogOptions options;
  options.max_size = 200;
  options.max_files = 2;
  LogWriter writer(path, options);
  writer.write(LogStream::Stdout, "aaaa\nbbbb\ncccc\ndddd\neeee\n", kTime);
  for (const auto& file : {rotated_log_path(path, 1), path}) {
    const auto text = gctool::read_file(file);
    CHECK(text.ends_with('\n'));
    for (std::size_t start = 0; start < text.size();) {
      const auto end = text.find('\n', start);
      CHECK(parse_log_record(std::string_view(text).substr(start, end - start)));
      start = end + 1;
    }
  }
}

TEST_CASE("with max-file 1 a full log starts again empty") {
  gctool::test::TempDir dir;
  const auto path = container_log_path(dir.path());
  LogOptions options;
  options.max_size = static_cast<std::int64_t>(out("F", "x").size()) * 2;
  LogWriter writer(path, options);
  for (const char* line : {"1\n", "2\n", "3\n"}) {
    writer.write(LogStream::Stdout, line, kTime);
  }
  CHECK(gctool::read_file(path) == out("F", "3"));
  CHECK_FALSE(std::filesystem::exists(rotated_log_path(path, 1)));
}
