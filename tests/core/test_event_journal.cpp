// The events journal: concurrent writers never interleave a message, the file stays bounded by
// rotating into events.log.1, and a reader that follows it sees every message once, in order,
// across a rotation.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "gctool/core/event_journal.hpp"
#include "test_support.hpp"

using gctool::Event;
using gctool::test::TempDir;

namespace {

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

TEST_CASE("event messages carry Docker's fields") {
  const auto time =
      std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  const auto container = gctool::event_message(
      {"container", "start", "abc", {{"image", "busybox"}, {"name", "web"}}}, time);
  CHECK(container["status"] == "start");
  CHECK(container["id"] == "abc");
  CHECK(container["from"] == "busybox");
  CHECK(container["Type"] == "container");
  CHECK(container["Action"] == "start");
  CHECK(container["Actor"]["ID"] == "abc");
  CHECK(container["Actor"]["Attributes"]["name"] == "web");
  CHECK(container["time"] == 1'700'000'000);
  CHECK(container["timeNano"] == 1'700'000'000'123'456'789);
  const auto volume =
      gctool::event_message({"volume", "create", "data", {{"driver", "local"}}}, time);
  CHECK_FALSE(volume.contains("status"));
  CHECK_FALSE(volume.contains("from"));
  CHECK(volume["Actor"]["ID"] == "data");
}

TEST_CASE("concurrent writers append whole messages and the journal stays bounded") {
  TempDir dir("gct-events");
  constexpr int kWriters = 4;
  constexpr int kEach = 1500;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      for (int i = 0; i < kEach; ++i) {
        // Long attributes make the messages big enough to rotate within the test.
        gctool::record_event(dir.path(), {"container",
                                          "start",
                                          std::to_string(w) + "-" + std::to_string(i),
                                          {{"padding", std::string(200, 'x')}}});
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
  }
  const auto current = gctool::event_journal_path(dir.path());
  auto older = current;
  older += ".1";
  REQUIRE(std::filesystem::exists(older));  // 4 x 1500 x ~350 bytes: past the limit
  std::size_t total = 0;
  std::set<std::string> ids;
  for (const auto& path : {older, current}) {
    // The limit is checked after each write, so a file ends at most a few messages past it.
    CHECK(std::filesystem::file_size(path) < gctool::kEventJournalLimit + 16 * 1024);
    for (const auto& line : lines_of(path)) {
      const auto message = nlohmann::json::parse(line, nullptr, false);
      REQUIRE(message.is_object());
      ids.insert(message["Actor"]["ID"].get<std::string>());
      ++total;
    }
  }
  CHECK(ids.size() == total);
  CHECK(total > 0);
}

TEST_CASE("a reader follows the journal across a rotation") {
  TempDir dir("gct-events");
  gctool::EventJournalReader reader(dir.path());
  CHECK(reader.read_new().empty());  // no journal yet
  std::vector<std::string> seen;
  const int count = 6000;  // ~1.7 MB of messages: one rotation
  for (int i = 0; i < count; ++i) {
    gctool::record_event(dir.path(),
                         {"image", "tag", std::to_string(i), {{"name", std::string(150, 'y')}}});
    if (i % 100 == 99 || i == count - 1) {
      for (const auto& message : reader.read_new()) {
        seen.push_back(message["id"].get<std::string>());
      }
    }
  }
  auto older = gctool::event_journal_path(dir.path());
  older += ".1";
  CHECK(std::filesystem::exists(older));
  REQUIRE(seen.size() == count);
  for (int i = 0; i < count; ++i) {
    REQUIRE(seen[static_cast<std::size_t>(i)] == std::to_string(i));
  }
  CHECK(reader.read_new().empty());
  // A new reader starts with the older generation, then the current one.
  gctool::EventJournalReader fresh(dir.path());
  const auto all = fresh.read_new();
  REQUIRE_FALSE(all.empty());
  CHECK(all.back()["id"] == std::to_string(count - 1));
}
