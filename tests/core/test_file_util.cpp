#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;

TEST_CASE("write_file then read_file returns the same bytes", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "data";
  const std::string data("line one\nwith a \0 byte\n", 23);
  gctool::write_file(path, data);
  CHECK(gctool::read_file(path) == data);
  gctool::write_file(path, "short");
  CHECK(gctool::read_file(path) == "short");
}

TEST_CASE("read_file of a missing file throws ENOENT naming the path", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "missing";
  try {
    (void)gctool::read_file(path);
    FAIL("no exception");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOENT);
    CHECK_THAT(e.what(), Contains(path.string()));
  }
}

TEST_CASE("try_read_file is nullopt for a missing file only", "[core]") {
  gctool::test::TempDir dir;
  CHECK_FALSE(gctool::try_read_file(dir.path() / "missing").has_value());
  gctool::write_file(dir.path() / "present", "x");
  CHECK(gctool::try_read_file(dir.path() / "present") == "x");
  // A directory is an error, not an absent file.
  CHECK_THROWS_AS(gctool::try_read_file(dir.path()), gctool::Error);
}

TEST_CASE("read_file reads procfs files that report size 0", "[core]") {
  const std::string stat = gctool::read_file("/proc/self/stat");
  CHECK_FALSE(stat.empty());
  CHECK(stat.back() == '\n');
}

TEST_CASE("write_existing_file sets a procfs knob", "[core]") {
  const std::string old_comm = gctool::read_file("/proc/self/comm");
  gctool::write_existing_file("/proc/self/comm", "gct-knob");
  CHECK(gctool::read_file("/proc/self/comm") == "gct-knob\n");
  gctool::write_existing_file("/proc/self/comm", old_comm.substr(0, old_comm.size() - 1));
}

TEST_CASE("write_existing_file does not create files and names path and value", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "memory.max";
  try {
    gctool::write_existing_file(path, "max");
    FAIL("no exception");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOENT);
    CHECK_THAT(e.what(), Contains(path.string()) && Contains("\"max\""));
  }
  struct stat st {};
  CHECK(::stat(path.c_str(), &st) != 0);
}

TEST_CASE("write_existing_file reports a value the kernel rejects", "[core]") {
  // /proc/self/oom_score_adj accepts -1000..1000 only.
  try {
    gctool::write_existing_file("/proc/self/oom_score_adj", "5000");
    FAIL("no exception");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == EINVAL);
    CHECK_THAT(e.what(), Contains("write \"5000\" to \"/proc/self/oom_score_adj\""));
  }
}
