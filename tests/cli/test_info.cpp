// `info` as Docker users read and script it: counts of this data root, the host's cgroups.
#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

TEST_CASE("info counts the root's containers and images", "[root]") {
  TestRoot root;
  const auto empty = root.run({"info", "-f", "{{.Containers}} {{.ContainersStopped}} {{.Images}}"});
  CHECK(empty.exit_code == 0);
  CHECK(empty.out == "0 0 1\n");
  const auto name = unique_name("info");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "busybox", "true"}).exit_code == 0);
  CHECK(root.run({"info", "--format",
                  "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}}"})
            .out == "1 0 1\n");
  const auto text = root.run({"info"});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("Containers: 1\n Running: 0\n Paused: 0\n Stopped: 1\nImages: 1\n") == 0);
  CHECK((text.out.find("\nCgroup Version: 1\n") != std::string::npos ||
         text.out.find("\nCgroup Version: 2\n") != std::string::npos));
  CHECK(text.out.find("\nRoot Dir: " + root.root() + "\n") != std::string::npos);
  CHECK(root.run({"info", "-f", "{{.Nope"}).exit_code == 125);
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}
