// Overlayfs under gctool (the checkout inside a container): overlayfs cannot hold the upper dir of
// an overlay, so the tests' temporary roots go where containers can run.
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
