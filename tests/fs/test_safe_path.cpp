// Paths resolved inside a root: symlinks of every kind stay inside it, missing targets are
// created inside it, and nothing outside the root is touched.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/fs/safe_path.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using gctool::UniqueFd;
using gctool::fs::mkdir_all_in_root;
using gctool::fs::resolve_in_root;
using gctool::fs::touch_in_root;
using gctool::test::TempDir;

namespace {

struct Root {
  TempDir dir{"gct-safe-path"};
  UniqueFd fd{::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
  fs::path operator/(const std::string& rel) const { return dir.path() / rel; }
};

// The path an fd refers to.
fs::path fd_target(const UniqueFd& fd) {
  return fs::read_symlink("/proc/self/fd/" + std::to_string(fd.get()));
}

}  // namespace

TEST_CASE("resolve_in_root follows symlinks as paths inside the root") {
  Root root;
  TempDir outside{"gct-safe-path-outside"};
  fs::create_directories(root / "etc");
  fs::create_directories(root / "run");
  fs::create_symlink(outside.path(), root / "abs");
  fs::create_symlink("../../../../../../../../.." + outside.str(), root / "etc/rel");
  fs::create_symlink("../run/resolv.conf", root / "etc/resolv.conf");
  fs::create_symlink("etc/resolv.conf", root / "chain");
  fs::create_symlink("loop", root / "loop");

  CHECK(resolve_in_root(root.fd, "/") == "");
  CHECK(resolve_in_root(root.fd, "/etc/./x/../y/") == "etc/y");
  CHECK(resolve_in_root(root.fd, "../../etc") == "etc");
  CHECK(resolve_in_root(root.fd, "/abs/sub") == outside.str().substr(1) + "/sub");
  CHECK(resolve_in_root(root.fd, "/etc/rel") == outside.str().substr(1));
  CHECK(resolve_in_root(root.fd, "/etc/resolv.conf") == "run/resolv.conf");
  CHECK(resolve_in_root(root.fd, "/chain") == "run/resolv.conf");
  CHECK_THROWS_AS(resolve_in_root(root.fd, "/loop"), gctool::Error);
}

TEST_CASE("mkdir_all_in_root and touch_in_root create a symlink's target inside the root") {
  Root root;
  TempDir outside{"gct-safe-path-outside"};
  fs::create_directories(root / "etc");
  fs::create_symlink(outside.path() / "hosts", root / "etc/hosts");
  fs::create_symlink("../../../../../../../.." + outside.str() + "/dir", root / "link");

  const auto file = touch_in_root(root.fd, "/etc/hosts");
  CHECK(fd_target(file) == root / (outside.str().substr(1) + "/hosts"));
  CHECK(fs::is_regular_file(root / (outside.str().substr(1) + "/hosts")));
  const auto dir = mkdir_all_in_root(root.fd, "/link/a/b");
  CHECK(fd_target(dir) == root / (outside.str().substr(1) + "/dir/a/b"));
  CHECK(fs::is_empty(outside.path()));
}

TEST_CASE("symlinks of procfs are never followed") {
  UniqueFd root{::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)};
  CHECK_THROWS_AS(resolve_in_root(root, "/proc/self/root/etc"), gctool::Error);
  CHECK_THROWS_AS(mkdir_all_in_root(root, "/proc/self/cwd/x"), gctool::Error);
}
