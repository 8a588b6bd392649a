#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include <catch2/catch.hpp>

#include "gctool/core/atomic_file.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}
}  // namespace

TEST_CASE("write_file_atomic creates and replaces a file without leftovers", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "config.json";
  gctool::write_file_atomic(path, "first");
  CHECK(gctool::read_file(path) == "first");
  gctool::write_file_atomic(path, "second, longer", gctool::Durability::fast);
  CHECK(gctool::read_file(path) == "second, longer");
  CHECK(entries(dir.path()) == std::vector<std::string>{"config.json"});
}

TEST_CASE("write_file_atomic sets the mode regardless of the umask", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "secret";
  gctool::write_file_atomic(path, "x", gctool::Durability::durable, 0640);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
}

TEST_CASE("write_file_atomic replaces a file that is open for reading", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "state";
  gctool::write_file_atomic(path, "old");
  gctool::UniqueFd reader(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(reader);
  gctool::write_file_atomic(path, "new");
  // The old reader keeps the old inode whole: a reader never sees a mix.
  CHECK(gctool::read_all(reader, "old state") == "old");
  CHECK(gctool::read_file(path) == "new");
}

TEST_CASE("write_file_atomic into a missing directory throws naming the path", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "no-such-dir" / "config.json";
  try {
    gctool::write_file_atomic(path, "x");
    FAIL("no exception");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOENT);
    CHECK_THAT(e.what(), Catch::Matchers::Contains(path.string()));
  }
  CHECK(entries(dir.path()).empty());
}

TEST_CASE("write_file_atomic removes its temporary file when the rename fails", "[core]") {
  gctool::test::TempDir dir;
  // Renaming a file over a non-empty directory fails after the temporary file is written.
  const auto path = dir.path() / "target";
  fs::create_directory(path);
  gctool::write_file(path / "inside", "keep");
  CHECK_THROWS_AS(gctool::write_file_atomic(path, "data"), gctool::Error);
  CHECK(entries(dir.path()) == std::vector<std::string>{"target"});
  CHECK(gctool::read_file(path / "inside") == "keep");
}

TEST_CASE("write_file_atomic with a relative path writes in the working directory", "[core]") {
  gctool::test::TempDir dir;
  const auto old_cwd = fs::current_path();
  fs::current_path(dir.path());
  gctool::write_file_atomic("relative.json", "{}");
  fs::current_path(old_cwd);
  CHECK(gctool::read_file(dir.path() / "relative.json") == "{}");
  CHECK(entries(dir.path()) == std::vector<std::string>{"relative.json"});
}
