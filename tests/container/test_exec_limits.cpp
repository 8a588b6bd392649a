// exec into a container whose pid 1 runs as another user: its limits come from /proc/PID/limits,
// since prlimit(2) on another user's process needs CAP_SYS_RESOURCE, which root may lack.
#include <catch2/catch.hpp>

#include "container_support.hpp"

using namespace gctool::test;

TEST_CASE("exec into a container whose pid 1 is not root gets that pid 1's limits",
          "[root][exec]") {
  TestRoot root;
  const auto name = unique_name("gct-exec-limits-");
  // Limits of the container that the exec caller below does not have.
  const auto started =
      run_program({"sh", "-c", "ulimit -S -n 200 && ulimit -H -n 3000 && exec \"$0\" \"$@\"",
                   GCTOOL_BINARY, "--root", root.root(), "run", "-d", "--name", name, "--network",
                   "none", "-u", "nobody", root.image_id(), "sleep", "1000"});
  INFO(started.err);
  REQUIRE(started.exit_code == 0);
  const auto r = run_program({"sh", "-c", "ulimit -S -n 99 && exec \"$0\" \"$@\"", GCTOOL_BINARY,
                              "--root", root.root(), "exec", name, "sh", "-c",
                              "id -u; ulimit -n; cat /proc/1/limits; echo; cat /proc/self/limits"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err == "");
  const auto blank = r.out.find("\n\n");
  REQUIRE(blank != std::string::npos);
  const std::string head = r.out.substr(0, r.out.find("Limit"));
  CHECK(head == "65534\n200\n");
  const std::string container = r.out.substr(head.size(), blank + 1 - head.size());
  const std::string exec = r.out.substr(blank + 2);
  CHECK_THAT(container, Catch::Contains("Max open files            200                  3000"));
  CHECK(exec == container);
  remove(root, name);
  CHECK(root.leaks().empty());
}
