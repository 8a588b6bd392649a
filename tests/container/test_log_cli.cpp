// `gctool logs` and api::Logs against a data root with a container record and its log.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "gctool/container/api.hpp"
#include "gctool/container/log_options.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/task.hpp"
#include "test_support.hpp"

using gctool::container::container_log_path;
using gctool::container::LogStream;
using gctool::container::LogWriter;

namespace {

const std::string kId = "4f3c2b1a" + std::string(56, '0');

// A container record as `run` writes it; a running one points at this test process.
std::filesystem::path make_container(const gctool::test::TempDir& root, bool running) {
  const auto dir = root.path() / "containers" / kId;
  std::filesystem::create_directories(dir);
  const pid_t pid = running ? ::getpid() : 0;
  const auto start = running ? gctool::process_start_time(pid).value_or(0) : 0;
  const nlohmann::json config = {
      {"Id", kId},
      {"Name", "/web"},
      {"State",
       {{"Status", running ? "running" : "exited"}, {"Pid", pid}, {"PidStartTime", start}}},
      {"Config", nlohmann::json::object()},
      {"HostConfig", nlohmann::json::object()},
      {"Gctool", nlohmann::json::object()}};
  gctool::write_file(dir / "config.json", config.dump());
  return dir;
}

// `gctool --root <root> logs <args>`
gctool::test::RunResult logs(const gctool::test::TempDir& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"--root", root.str(), "logs"});
  return gctool::test::gctool(args);
}

}  // namespace

TEST_CASE("logs shows stdout and stderr on their own streams") {
  gctool::test::TempDir root;
  const auto dir = make_container(root, false);
  {
    LogWriter writer(container_log_path(dir));
    writer.write(LogStream::Stdout, "one\ntwo\n", timespec{1767323045, 0});
    writer.write(LogStream::Stderr, "oops\n", timespec{1767323046, 0});
    writer.write(LogStream::Stdout, "three", timespec{1767323047, 0});
  }
  auto result = logs(root, {"web"});
  CHECK(result.exit_code == 0);
  CHECK(result.out == "one\ntwo\nthree");
  CHECK(result.err == "oops\n");

  result = logs(root, {"--tail", "2", "4f3c"});
  CHECK(result.out == "three");
  CHECK(result.err == "oops\n");

  result = logs(root, {"-t", "--since", "2026-01-02T03:04:06Z", kId});
  CHECK(result.out == "2026-01-02T03:04:07.000000000Z three");
  CHECK(result.err == "2026-01-02T03:04:06.000000000Z oops\n");

  // An exited container: -f shows the log and returns.
  result = logs(root, {"-f", "-n", "1", "/web"});
  CHECK(result.exit_code == 0);
  CHECK(result.out == "three");
}

TEST_CASE("logs names what it cannot find or parse") {
  gctool::test::TempDir root;
  make_container(root, false);
  auto result = logs(root, {"nope"});
  CHECK(result.exit_code == 1);  // Docker: the daemon's "No such container", exit 1
  CHECK(result.err == "gctool: no such container: nope\n");
  result = logs(root, {"--tail", "x", "web"});
  CHECK(result.exit_code == 125);
  CHECK(result.err.find("--tail") != std::string::npos);
}

TEST_CASE("logs -f follows a running container until it exits") {
  gctool::test::TempDir root;
  const auto dir = make_container(root, true);
  LogWriter writer(container_log_path(dir),
                   gctool::container::parse_log_opts({"max-size=2k", "max-file=50"}));
  writer.write(LogStream::Stdout, "started\n");
  std::thread container([&] {
    for (int i = 0; i < 200; ++i) {
      writer.write(LogStream::Stdout, fmt::format("line {}\n", i));
      if (i % 20 == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    make_container(root, false);
  });
  const auto result = logs(root, {"-f", "web"});
  container.join();
  std::string expected = "started\n";
  for (int i = 0; i < 200; ++i) {
    expected += fmt::format("line {}\n", i);
  }
  CHECK(result.exit_code == 0);
  CHECK(result.out == expected);
}

// Records as "stream text[ P] timestamp", one string each, or "end".
gctool::io::Task<std::vector<std::string>> take(gctool::io::Loop& loop,
                                                gctool::container::api::Logs& logs, int count) {
  std::vector<std::string> taken;
  for (int i = 0; i < count; ++i) {
    const auto record = co_await logs.next(loop);
    if (!record) {
      taken.emplace_back("end");
      continue;
    }
    taken.push_back(fmt::format("{} {}{} {}", gctool::container::log_stream_name(record->stream),
                                record->text, record->partial ? " P" : "", record->timestamp));
  }
  co_return taken;
}

TEST_CASE("api::Logs hands out the log's records and follows them until the container stops") {
  gctool::test::TempDir root;
  const auto dir = make_container(root, true);
  LogWriter writer(container_log_path(dir));
  writer.write(LogStream::Stdout, "one\n", timespec{1767323045, 0});
  writer.write(LogStream::Stderr, "oops\n", timespec{1767323046, 0});
  writer.write(LogStream::Stdout, "par", timespec{1767323047, 0});
  const gctool::container::ContainerStore store(root.path());
  gctool::container::api::Logs logs(store, "web", {}, true);
  CHECK(logs.id() == kId);
  gctool::io::Loop loop;
  CHECK(gctool::io::sync_wait(loop, take(loop, logs, 3)) ==
        std::vector<std::string>{"stdout one 2026-01-02T03:04:05.000000000Z",
                                 "stderr oops 2026-01-02T03:04:06.000000000Z",
                                 "stdout par P 2026-01-02T03:04:07.000000000Z"});
  // Written while it follows, then the container stops: the last records, then the end.
  writer.write(LogStream::Stdout, "tial\n", timespec{1767323048, 0});
  make_container(root, false);
  CHECK(gctool::io::sync_wait(loop, take(loop, logs, 2)) ==
        std::vector<std::string>{"stdout tial 2026-01-02T03:04:08.000000000Z", "end"});
}

TEST_CASE("api::Logs without follow ends after what has been logged, with --tail") {
  gctool::test::TempDir root;
  const auto dir = make_container(root, true);
  LogWriter writer(container_log_path(dir));
  writer.write(LogStream::Stdout, "one\ntwo\nthree\n", timespec{1767323045, 0});
  const gctool::container::ContainerStore store(root.path());
  gctool::container::LogReadOptions options;
  options.tail = 2;
  gctool::container::api::Logs logs(store, kId.substr(0, 6), options, false);
  gctool::io::Loop loop;
  CHECK(gctool::io::sync_wait(loop, take(loop, logs, 3)) ==
        std::vector<std::string>{"stdout two 2026-01-02T03:04:05.000000000Z",
                                 "stdout three 2026-01-02T03:04:05.000000000Z", "end"});
}
