// Overlayfs under gctool (gctool, or the checkout, inside a container): overlayfs cannot hold the
// upper dir of an overlay. A data root there is refused before anything exists, with one line
// that says what to do; the tests' temporary roots go where containers can run.
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "container_support.hpp"

namespace fs = std::filesystem;
using namespace gctool::test;

namespace {

// An overlay mounted at dir/merged (its lower, upper and work dirs beside it), unmounted with dir.
fs::path mount_overlay_in(const TempDir& dir) {
  for (const char* sub : {"lower", "upper", "work", "merged"}) {
    fs::create_directory(dir.path() / sub);
  }
  const fs::path merged = dir.path() / "merged";
  const std::string options =
      fmt::format("lowerdir={0}/lower,upperdir={0}/upper,workdir={0}/work", dir.str());
  REQUIRE(::mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) == 0);
  REQUIRE(on_overlayfs(merged));
  return merged;
}

// Sets an environment variable for the scope, then puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
    }
    ::setenv(name, value.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("a data root on overlayfs is refused with one line that says what to do", "[root]") {
  HostNetns netns;
  TempDir dir{"gct-overlay-root"};
  const fs::path root = mount_overlay_in(dir);
  import_busybox(root);

  const auto r = gctool::test::gctool(
      {"--root", root.string(), "run", "--name", "c", "-v", "vol:/data", "busybox", "true"});
  INFO(r.err);
  CHECK(r.exit_code == 125);
  CHECK(r.out == "");
  CHECK(r.err == fmt::format("gctool: the data root \"{}\" is on overlayfs, which cannot hold a "
                             "container's writable layer: put --root on another filesystem (a "
                             "volume or a tmpfs)\n",
                             root.string()));
  // Nothing was created: no record, no volume, no mount.
  CHECK((!fs::exists(root / "containers") || fs::is_empty(root / "containers")));
  CHECK((!fs::exists(root / "volumes") || fs::is_empty(root / "volumes")));
  CHECK(mounts_under(root.string()) == std::vector<std::string>{root.string()});
  CHECK(gctool::test::gctool({"--root", root.string(), "ps", "-a", "-q"}).out == "");
}

TEST_CASE("tests whose temporary directory is on overlayfs still run containers", "[root]") {
  // A checkout inside a container: GCTOOL_TEST_TMP (the build tree) on overlayfs.
  TempDir outer{"gct-overlay-tmp"};
  const fs::path overlay_tmp = mount_overlay_in(outer);
  const ScopedEnv env("GCTOOL_TEST_TMP", overlay_tmp.string());
  TestRoot root;
  REQUIRE(root.root().starts_with(overlay_tmp.string() + "/"));
  const auto r = root.run({"run", "--rm", "busybox", "echo", "hello"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hello\n");
  CHECK(root.leaks().empty());
}
