#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_lock.hpp"
#include "test_support.hpp"

namespace {

enum class Want { exclusive, shared };

// Whether another process could take the lock right now. The child exits with 0 when it got
// the lock, 1 when it did not, 2 on an error.
bool other_process_can_lock(const std::filesystem::path& file, Want want) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      const auto lock = want == Want::exclusive ? gctool::FileLock::try_exclusive(file)
                                                : gctool::FileLock::try_shared(file);
      ::_exit(lock ? 0 : 1);
    } catch (...) {
      ::_exit(2);
    }
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) != 2);
  return WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("an exclusive lock excludes another process until released", "[core]") {
  gctool::test::TempDir dir;
  const auto file = dir.path() / "lock";
  CHECK(other_process_can_lock(file, Want::exclusive));
  {
    gctool::FileLock lock = gctool::FileLock::exclusive(file);
    CHECK(lock.locked());
    CHECK_FALSE(other_process_can_lock(file, Want::exclusive));
    CHECK_FALSE(other_process_can_lock(file, Want::shared));
  }
  CHECK(other_process_can_lock(file, Want::exclusive));
}

TEST_CASE("shared locks coexist and exclude an exclusive one", "[core]") {
  gctool::test::TempDir dir;
  const auto file = dir.path() / "lock";
  gctool::FileLock lock = gctool::FileLock::shared(file);
  CHECK(other_process_can_lock(file, Want::shared));
  CHECK_FALSE(other_process_can_lock(file, Want::exclusive));
  lock.unlock();
  CHECK_FALSE(lock.locked());
  CHECK(other_process_can_lock(file, Want::exclusive));
}

TEST_CASE("try_exclusive in the same process conflicts too", "[core]") {
  // flock belongs to the open file description, and each FileLock opens the file anew.
  gctool::test::TempDir dir;
  const auto file = dir.path() / "lock";
  std::optional<gctool::FileLock> first = gctool::FileLock::try_exclusive(file);
  REQUIRE(first.has_value());
  CHECK_FALSE(gctool::FileLock::try_exclusive(file).has_value());
  first.reset();
  CHECK(gctool::FileLock::try_exclusive(file).has_value());
}

TEST_CASE("a moved lock stays held and is released once", "[core]") {
  gctool::test::TempDir dir;
  const auto file = dir.path() / "lock";
  gctool::FileLock a = gctool::FileLock::exclusive(file);
  gctool::FileLock b = std::move(a);
  CHECK_FALSE(a.locked());
  CHECK(b.locked());
  CHECK_FALSE(other_process_can_lock(file, Want::exclusive));
  gctool::FileLock c = gctool::FileLock::exclusive(dir.path() / "other");
  c = std::move(b);
  CHECK(c.locked());
  CHECK_FALSE(other_process_can_lock(file, Want::exclusive));
  CHECK(other_process_can_lock(dir.path() / "other", Want::exclusive));
}

TEST_CASE("unlock releases the lock even if a forked child shares the descriptor", "[core]") {
  gctool::test::TempDir dir;
  const auto file = dir.path() / "lock";
  gctool::FileLock lock = gctool::FileLock::exclusive(file);
  int release_child[2];
  REQUIRE(::pipe(release_child) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Holds an inherited copy of the lock's descriptor until the parent closes the pipe.
    char c;
    ::close(release_child[1]);
    [[maybe_unused]] auto n = ::read(release_child[0], &c, 1);
    ::_exit(0);
  }
  ::close(release_child[0]);
  lock.unlock();
  CHECK(other_process_can_lock(file, Want::exclusive));
  ::close(release_child[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
}

TEST_CASE("a lock file in a missing directory throws naming it", "[core]") {
  gctool::test::TempDir dir;
  const auto file = dir.path() / "missing" / "lock";
  try {
    (void)gctool::FileLock::exclusive(file);
    FAIL("no exception");
  } catch (const gctool::Error& e) {
    CHECK(e.errno_value() == ENOENT);
    CHECK_THAT(e.what(), Catch::Matchers::Contains(file.string()));
  }
}
