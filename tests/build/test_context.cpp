// The remembered digests of context files: used while a file is unchanged, never after an edit
// (even one that keeps the size and the mtime), nor from a file another user could have written.
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "gctool/build/context.hpp"
#include "gctool/core/error.hpp"
#include "test_support.hpp"

using namespace gctool;
using namespace gctool::build;
using gctool::test::TempDir;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

struct stat lstat_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

// Files whose last change is older than the build are remembered: wait out the settling time.
void let_settle() {
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
}

}  // namespace

TEST_CASE("file digests are remembered while a file is unchanged, not after an edit", "[build]") {
  TempDir dir("gct-file-hashes");
  const fs::path file = dir.path() / "a.txt";
  const fs::path saved = dir.path() / "file-hashes";
  write(file, "one\n");
  let_settle();
  const struct stat st = lstat_of(file);
  const FileDigest one = digest_file(file, st.st_size);
  {
    FileHashes hashes(saved);
    CHECK(hashes.digest(file, st) == one);
    hashes.save();
  }
  REQUIRE(fs::exists(saved));
  CHECK((lstat_of(saved).st_mode & 07777) == 0600);

  FileHashes again(saved);
  // A remembered digest is not read: the path given does not even exist.
  CHECK(again.digest(dir.path() / "missing", st) == one);

  // The same size and the same mtime, but a new ctime: read again.
  write(file, "two\n");
  const std::array<timespec, 2> times{st.st_mtim, st.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times.data(), AT_SYMLINK_NOFOLLOW) == 0);
  const struct stat edited = lstat_of(file);
  REQUIRE(edited.st_size == st.st_size);
  REQUIRE(edited.st_mtim.tv_sec == st.st_mtim.tv_sec);
  REQUIRE(edited.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
  const FileDigest two = again.digest(file, edited);
  CHECK(two != one);
  CHECK(two == digest_file(file, edited.st_size));
}

TEST_CASE("a file changed just before the build is hashed but not remembered", "[build]") {
  TempDir dir("gct-file-hashes");
  const fs::path file = dir.path() / "fresh.txt";
  const fs::path saved = dir.path() / "file-hashes";
  write(file, "fresh\n");
  const struct stat st = lstat_of(file);
  {
    FileHashes hashes(saved);
    CHECK(hashes.digest(file, st) == digest_file(file, st.st_size));
    hashes.save();
  }
  FileHashes again(saved);
  CHECK_THROWS_AS(again.digest(dir.path() / "missing", st), Error);
}

namespace {

// Saves a digest of a.txt in dir, lets forge() change the saved file, then checks that a build
// neither uses the digest nor replaces the file when it has a new one to save.
template <typename Forge>
void check_forged_file_ignored(const fs::path& dir, Forge forge) {
  const fs::path a = dir / "a.txt";
  const fs::path b = dir / "b.txt";
  const fs::path saved = dir / "file-hashes";
  write(a, "one\n");
  write(b, "two\n");
  let_settle();
  const struct stat st = lstat_of(a);
  {
    FileHashes hashes(saved);
    (void)hashes.digest(a, st);
    hashes.save();
  }
  REQUIRE(fs::exists(saved));
  forge(saved);
  const struct stat before = lstat_of(saved);
  FileHashes hashes(saved);
  CHECK_THROWS_AS(hashes.digest(dir / "missing", st), Error);
  (void)hashes.digest(b, lstat_of(b));  // settled: one to save
  hashes.save();
  const struct stat after = lstat_of(saved);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_uid == before.st_uid);
  CHECK(after.st_mode == before.st_mode);
}

}  // namespace

TEST_CASE("digests in a file others may write are neither read nor replaced", "[build]") {
  TempDir dir("gct-file-hashes");
  check_forged_file_ignored(
      dir.path(), [](const fs::path& saved) { REQUIRE(::chmod(saved.c_str(), 0620) == 0); });
}

TEST_CASE("digests in a file of another user are neither read nor replaced", "[root][build]") {
  TempDir dir("gct-file-hashes");
  check_forged_file_ignored(
      dir.path(), [](const fs::path& saved) { REQUIRE(::chown(saved.c_str(), 1234, 1234) == 0); });
}
