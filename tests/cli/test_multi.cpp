// Docker's exit codes for containers that do not exist or do not run, and the multi-container
// verbs acting on all their containers at once.
#include <chrono>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

TEST_CASE("a container that does not exist or does not run: Docker's exit codes", "[root]") {
  TestRoot root;
  const auto rm = root.run({"rm", "-f", "nosuch"});
  CHECK(rm.exit_code == 0);
  CHECK(rm.out.empty());
  CHECK(rm.err.empty());
  for (const auto& verb : {"stop", "kill", "logs"}) {
    const auto out = root.run({verb, "nosuch"});
    CHECK(out.exit_code == 1);
    CHECK(out.err == "gctool: no such container: nosuch\n");
  }
  const auto exec = root.run({"exec", "nosuch", "true"});
  CHECK(exec.exit_code == 1);
  CHECK(exec.err == "gctool: no such container: nosuch\n");
  const auto name = unique_name("stopped");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "busybox", "true"}).exit_code == 0);
  const auto stopped = root.run({"exec", name, "true"});
  CHECK(stopped.exit_code == 1);
  CHECK(stopped.err == "gctool: container " + name + " is not running\n");
  // rm -f of several: the missing one is skipped silently, the others removed and printed.
  const auto mixed = root.run({"rm", "-f", "nosuch", name});
  CHECK(mixed.exit_code == 0);
  CHECK(mixed.out == name + "\n");
  CHECK(mixed.err.empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("stop, kill, restart and rm -f act on all their containers at once", "[root]") {
  TestRoot root;
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    names.push_back(unique_name("par"));
    // sh as pid 1 ignores SIGTERM: each stop waits its full timeout.
    REQUIRE(root.run({"run", "-d", "--name", names.back(), "--network", "none", "busybox", "sh",
                      "-c", "while true; do sleep 1; done"})
                .exit_code == 0);
  }
  const auto timed = [&](std::vector<std::string> args) {
    const auto start = std::chrono::steady_clock::now();
    const auto out = root.run(args);
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(out.exit_code == 0);
    std::string expected;
    for (const auto& n : names) {
      expected += n + "\n";
    }
    CHECK(out.out == expected);
    return seconds;
  };
  std::vector<std::string> stop{"stop", "-t", "2"};
  stop.insert(stop.end(), names.begin(), names.end());
  const auto stop_seconds = timed(stop);
  INFO("stop -t 2 of 4 took " << stop_seconds << " s");
  CHECK(stop_seconds >= 2.0);
  CHECK(stop_seconds < 5.0);
  for (const auto& n : names) {
    CHECK(root.run({"inspect", "-f", "{{.State.Status}}", n}).out == "exited\n");
  }
  std::vector<std::string> restart{"restart", "-t", "1"};
  restart.insert(restart.end(), names.begin(), names.end());
  timed(restart);
  for (const auto& n : names) {
    CHECK(root.run({"inspect", "-f", "{{.State.Status}}", n}).out == "running\n");
  }
  std::vector<std::string> kill{"kill"};
  kill.insert(kill.end(), names.begin(), names.end());
  timed(kill);
  std::vector<std::string> rm{"rm", "-f"};
  rm.insert(rm.end(), names.begin(), names.end());
  timed(rm);
  CHECK(root.run({"ps", "-aq"}).out.empty());
  CHECK(root.leaks().empty());
}
