// `rmi` asks the container layer which images are in use: an image a container uses, running
// or exited, is refused without -f, as Docker refuses it.
#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

TEST_CASE("rmi refuses an image an exited container uses, unless forced", "[root]") {
  TestRoot root;
  const auto name = unique_name("user");
  REQUIRE(root.run({"create", "--name", name, "--network", "none", "busybox", "true"}).exit_code ==
          0);
  const auto id = root.inspect(name)["Id"].get<std::string>();

  // Its only tag, while a container uses it: refused, naming the container.
  const auto refused = root.run({"rmi", "busybox"});
  CHECK(refused.exit_code == 125);
  CHECK_THAT(refused.err, Catch::Contains("is used by container " + id.substr(0, 12)));
  CHECK(root.run({"image", "inspect", "busybox"}).exit_code == 0);

  // Once the container has gone, it is removed as any other.
  REQUIRE(root.run({"rm", name}).exit_code == 0);
  const auto removed = root.run({"rmi", "busybox"});
  CHECK(removed.exit_code == 0);
  CHECK_THAT(removed.out, Catch::Contains("Untagged: ") && Catch::Contains("Deleted: sha256:"));
  CHECK(root.run({"image", "inspect", "busybox"}).exit_code != 0);
  CHECK(root.leaks().empty());
}
