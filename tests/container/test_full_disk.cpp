// A full disk is not an outage: a container that fills the data root keeps its record and its
// files, a foreground one reports its own exit code, and ps, inspect, logs and rm -f work on the
// full disk and give the space back. The root is a small tmpfs the container fills.
#include <sys/statvfs.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

// Free bytes of the file system that holds path.
std::uint64_t free_bytes(const std::string& path) {
  struct statvfs st {};
  REQUIRE(::statvfs(path.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

constexpr std::uint64_t kMiB = 1024 * 1024;

// Writes until the disk is full (head fails with ENOSPC), then does `then`.
std::vector<std::string> filler(const std::string& then) {
  return {"sh", "-c", "head -c 256m /dev/zero > /fill; echo filled; " + then};
}

// What every container on a full disk must still allow, then rm -f frees its space.
void check_readable_and_removable(const TestRoot& root, const std::string& name,
                                  std::uint64_t free_before) {
  const auto ps = root.run({"ps", "-a"});
  INFO(ps.err);
  CHECK(ps.exit_code == 0);
  CHECK(ps.out.find(name) != std::string::npos);
  const auto inspect = root.run({"inspect", name});
  INFO(inspect.err);
  CHECK(inspect.exit_code == 0);
  CHECK(root.run({"logs", name}).exit_code == 0);
  const auto rm = root.run({"rm", "-f", name});
  INFO(rm.err);
  CHECK(rm.exit_code == 0);
  CHECK(root.inspect(name).is_null());
  // The container's writes are gone with it (the image and the root's own files stay).
  CHECK(free_bytes(root.root()) + 4 * kMiB > free_before);
}

}  // namespace

TEST_CASE("a foreground container that fills the disk keeps its record, files and exit code",
          "[root]") {
  TestRoot root("64m");
  const auto free_before = free_bytes(root.root());
  const auto name = unique_name("fill");
  std::vector<std::string> args = {"run", "--name", name, "--network", "none", "busybox"};
  const auto command = filler("exit 7");
  args.insert(args.end(), command.begin(), command.end());
  const auto run = root.run(args);
  INFO(run.err);
  CHECK(run.exit_code == 7);
  CHECK(run.out == "filled\n");
  CHECK(free_bytes(root.root()) < kMiB);
  const auto info = root.inspect(name);
  REQUIRE(!info.is_null());
  CHECK(info["State"]["Status"] == "exited");
  CHECK(info["State"]["ExitCode"] == 7);
  const auto upper =
      fs::path(root.root()) / "containers" / info["Id"].get<std::string>() / "upper" / "fill";
  CHECK(fs::file_size(upper) > 32 * kMiB);
  check_readable_and_removable(root, name, free_before);
  CHECK(root.leaks().empty());
}

TEST_CASE("a detached container that fills the disk can be listed, inspected and removed",
          "[root]") {
  TestRoot root("64m");
  const auto free_before = free_bytes(root.root());
  SECTION("while it runs on") {
    const auto name = run_detached(root, filler("exec sleep 1000"));
    REQUIRE(wait_until([&] { return free_bytes(root.root()) < kMiB; }, 60s));
    const auto exec = root.run({"exec", name, "true"});
    INFO(exec.err);
    CHECK(exec.exit_code == 0);
    CHECK(root.inspect(name)["State"]["Running"] == true);
    check_readable_and_removable(root, name, free_before);
  }
  SECTION("when it exits on the full disk") {
    const auto name = run_detached(root, filler("exit 3"));
    REQUIRE(wait_until(
        [&] {
          const auto info = root.inspect(name);
          return !info.is_null() && info["State"]["Status"] == "exited";
        },
        60s));
    CHECK(free_bytes(root.root()) < kMiB);
    const auto info = root.inspect(name);
    CHECK(info["State"]["ExitCode"] == 3);
    CHECK(info["State"]["Error"] == "");
    const auto ps = root.run({"ps", "-a"});
    CHECK(ps.out.find("Exited (3)") != std::string::npos);
    check_readable_and_removable(root, name, free_before);
  }
  CHECK(root.leaks().empty());
}
