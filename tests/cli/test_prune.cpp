// The prune family and system df as Docker's: a prompt unless -f, the list of what was removed,
// "Total reclaimed space", and only what nothing uses removed.
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

std::string full_id(const TestRoot& root, const std::string& name) {
  return root.inspect(name)["Id"].get<std::string>();
}

}  // namespace

TEST_CASE("container prune removes the stopped containers only, after asking", "[root]") {
  TestRoot root;
  const auto stopped = unique_name("stopped");
  REQUIRE(root.run({"run", "--name", stopped, "--network", "none", "busybox", "sh", "-c",
                    "head -c 1000 /dev/zero > /data"})
              .exit_code == 0);
  const auto running = gctool::test::run_detached(root, {"sleep", "300"});
  const auto id = full_id(root, stopped);

  const auto declined = root.run({"container", "prune"}, "n\n");
  CHECK(declined.exit_code == 0);
  CHECK(declined.out.empty());
  CHECK(declined.err ==
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? "
        "[y/N] ");
  CHECK(root.run({"ps", "-aq"}).out.size() == 2 * 13);

  const auto pruned = root.run({"container", "prune"}, "y\n");
  INFO(pruned.err);
  CHECK(pruned.exit_code == 0);
  CHECK(pruned.out == "Deleted Containers:\n" + id + "\n\nTotal reclaimed space: 1kB\n");
  CHECK(root.run({"ps", "-a", "--format", "{{.Names}}"}).out == running + "\n");
  const auto nothing = root.run({"container", "prune", "-f"});
  CHECK(nothing.out == "Total reclaimed space: 0B\n");
  remove(root, running);
  CHECK(root.leaks().empty());
}

TEST_CASE("image prune removes dangling images, -a every unused one", "[root]") {
  TestRoot root;
  const auto name = unique_name("img");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "busybox", "sh", "-c",
                    "head -c 2000 /dev/zero > /data"})
              .exit_code == 0);
  const auto committed = root.run({"commit", name});  // no tag: dangling
  REQUIRE(committed.exit_code == 0);
  const auto dangling = committed.out.substr(0, committed.out.size() - 1);
  REQUIRE(root.run({"images", "-q"}).out.size() == 2 * 13);

  const auto pruned = root.run({"image", "prune", "-f"});
  INFO(pruned.err);
  CHECK(pruned.exit_code == 0);
  CHECK(pruned.out == "Deleted Images:\ndeleted: " + dangling + "\n\nTotal reclaimed space: 2kB\n");
  // busybox is used by the (stopped) container: -a keeps it.
  CHECK(root.run({"image", "prune", "-a", "-f"}).out == "Total reclaimed space: 0B\n");
  remove(root, name);
  const auto all = root.run({"image", "prune", "-a", "-f"});
  CHECK(all.out.starts_with("Deleted Images:\nuntagged: busybox:latest\ndeleted: " +
                            root.image_id() + "\n\nTotal reclaimed space: "));
  CHECK(root.run({"images", "-q"}).out.empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("volume prune removes anonymous volumes, -a also named ones, never used ones", "[root]") {
  TestRoot root;
  const auto named = unique_name("named");
  const auto anon = unique_name("anon");
  const auto used = unique_name("used");
  for (const auto& v : {named, anon}) {
    REQUIRE(root.run({"volume", "create", v}).exit_code == 0);
  }
  // What an anonymous volume (`run -v /data`) carries: Docker's label.
  const auto meta = std::filesystem::path(root.root()) / "volumes" / anon / "volume.json";
  auto json = nlohmann::json::parse(std::ifstream(meta));
  json["Labels"] = {{"com.docker.volume.anonymous", ""}};
  std::ofstream(meta) << json.dump();
  const auto c = unique_name("user");
  REQUIRE(root.run({"run", "--name", c, "--network", "none", "-v", used + ":/d", "busybox", "sh",
                    "-c", "head -c 3000 /dev/zero > /d/f"})
              .exit_code == 0);

  const auto pruned = root.run({"volume", "prune", "-f"});
  INFO(pruned.err);
  CHECK(pruned.exit_code == 0);
  CHECK(pruned.out == "Deleted Volumes:\n" + anon + "\n\nTotal reclaimed space: 0B\n");
  const auto all = root.run({"volume", "prune", "-a", "-f"});
  CHECK(all.out == "Deleted Volumes:\n" + named + "\n\nTotal reclaimed space: 0B\n");
  CHECK(root.run({"volume", "ls", "-q"}).out == used + "\n");
  remove(root, c);
  CHECK(root.run({"volume", "prune", "-a", "-f"}).out ==
        "Deleted Volumes:\n" + used + "\n\nTotal reclaimed space: 3kB\n");
  CHECK(root.leaks().empty());
}

TEST_CASE("system prune and system df", "[root]") {
  TestRoot root;
  const auto stopped = unique_name("sys");
  REQUIRE(root.run({"run", "--name", stopped, "--network", "none", "busybox", "sh", "-c",
                    "head -c 1500 /dev/zero > /data"})
              .exit_code == 0);
  const auto id = full_id(root, stopped);
  const auto df = root.run({"system", "df"});
  INFO(df.err);
  CHECK(df.exit_code == 0);
  std::istringstream lines(df.out);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE");
  std::getline(lines, line);
  CHECK(line.starts_with("Images          1         1         "));
  std::getline(lines, line);
  CHECK(line == "Containers      1         0         1.5kB     1.5kB (100%)");
  std::getline(lines, line);
  CHECK(line == "Local Volumes   0         0         0B        0B");

  const auto declined = root.run({"system", "prune"}, "\n");
  CHECK(declined.out.empty());
  CHECK(declined.err.starts_with("WARNING! This will remove:\n  - all stopped containers\n"));
  CHECK(root.run({"ps", "-aq"}).out.size() == 13);
  const auto pruned = root.run({"system", "prune", "-f"});
  INFO(pruned.err);
  CHECK(pruned.exit_code == 0);
  CHECK(pruned.out == "Deleted Containers:\n" + id + "\n\nTotal reclaimed space: 1.5kB\n");
  CHECK(root.run({"ps", "-aq"}).out.empty());
  CHECK(root.run({"images", "-q"}).out.size() == 13);  // busybox is tagged: not dangling
  const auto all = root.run({"system", "prune", "-a", "-f"});
  CHECK(all.out.find("untagged: busybox:latest\n") != std::string::npos);
  CHECK(root.run({"images", "-q"}).out.empty());
  CHECK(root.leaks().empty());
}
