// gctool run from a chroot (as a fresh machine's checks run it, or a build root): the container's
// root is the root of its mount namespace all the same, so `exec` lands in the container's
// filesystem and the container cannot climb out of its root to the host's.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "container_support.hpp"

namespace fs = std::filesystem;
using namespace gctool::test;

namespace {

// gctool with args, chrooted into a recursive bind of "/" on an empty directory (in a mount
// namespace of its own, gone when its last process is).
RunResult gctool_chrooted(const TestRoot& root, const TempDir& chroot_dir,
                          const std::vector<std::string>& args) {
  std::vector<std::string> argv{"unshare",
                                "-m",
                                "--propagation",
                                "private",
                                "sh",
                                "-c",
                                "mount --rbind / \"$0\" && exec chroot \"$0\" \"$@\"",
                                chroot_dir.str(),
                                GCTOOL_BINARY,
                                "--root",
                                root.root()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

// A static program that tries the classic chroot escape from its container: chroot below the
// cwd, climb "..", chroot there. Prints whether argv[1], a host path, is then reachable.
constexpr const char* kClimbSource = R"(#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc != 2 || chdir("/") != 0 || mkdir("/below", 0755) != 0 || chroot("/below") != 0) {
    perror("setup");
    return 2;
  }
  for (int i = 0; i < 256; ++i) {
    if (chdir("..") != 0) {
      perror("chdir ..");
      return 2;
    }
  }
  if (chroot(".") != 0) {
    perror("chroot .");
    return 2;
  }
  puts(access(argv[1], F_OK) == 0 ? "escaped" : "contained");
  return 0;
}
)";

}  // namespace

TEST_CASE("exec lands in the container's root when gctool runs from a chroot", "[root][exec]") {
  TestRoot root;
  TempDir chroot_dir{"gct-chroot"};
  const std::string name = unique_name("gct-chroot-");
  const auto started = gctool_chrooted(
      root, chroot_dir,
      {"run", "-d", "--name", name, "busybox", "sh", "-c", "echo inside > /made; exec sleep 1000"});
  INFO(started.err);
  REQUIRE(started.exit_code == 0);
  const auto r = root.run({"exec", name, "sh", "-c",
                           "until [ -e /made ] && grep -q sleep /proc/1/cmdline; do sleep 0.05; "
                           "done; cat /made; ls /bin/busybox"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "inside\n/bin/busybox\n");
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("a container started from a chroot cannot climb out of its root", "[root]") {
  TestRoot root;
  TempDir chroot_dir{"gct-chroot"};
  TempDir tools{"gct-climb"};
  write_bytes(tools.path() / "climb.c", kClimbSource);
  const auto built = run_program({"gcc", "-static", "-O1", "-o", (tools.path() / "climb").string(),
                                  (tools.path() / "climb.c").string()});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  // A host path that the container does not have: reachable only by leaving its root.
  const fs::path marker = tools.path() / "host-only";
  write_bytes(marker, "");

  const auto r = gctool_chrooted(root, chroot_dir,
                                 {"run", "--rm", "-v", tools.str() + ":/tools:ro", "busybox",
                                  "/tools/climb", marker.string()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "contained\n");
  CHECK(root.leaks().empty());
}
