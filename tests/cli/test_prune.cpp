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

TEST_CASE("system df -v lists each image, container and volume as Docker's", "[root]") {
  TestRoot root;
  const auto name = unique_name("dfv");
  const auto volume = unique_name("dfvol");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "-v", volume + ":/v", "busybox",
                    "sh", "-c", "head -c 1500 /dev/zero > /data; head -c 2000 /dev/zero > /v/f"})
              .exit_code == 0);
  const auto unused = unique_name("dfvol");
  REQUIRE(root.run({"volume", "create", unused}).exit_code == 0);
  const auto df = root.run({"system", "df", "-v"});
  INFO(df.err);
  REQUIRE(df.exit_code == 0);
  std::vector<std::string> lines;
  std::istringstream in(df.out);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  const auto words = [](const std::string& line) {
    std::vector<std::string> out;
    std::istringstream split(line);
    for (std::string word; split >> word;) {
      out.push_back(word);
    }
    return out;
  };
  REQUIRE(lines.size() == 19);
  CHECK(lines[0] == "Images space usage:");
  CHECK(lines[1].empty());
  CHECK(lines[2].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"));
  CHECK(lines[2].ends_with("SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS"));
  const auto image = words(lines[3]);
  const auto image_id = root.image_id().substr(root.image_id().find(':') + 1, 12);
  REQUIRE(image.size() >= 8);
  CHECK(image[0] == "busybox");
  CHECK(image[1] == "latest");
  CHECK(image[2] == image_id);
  CHECK(image[image.size() - 2] == image[image.size() - 4]);  // unique size: all of it
  CHECK(image[image.size() - 3] == "0B");                     // shared with no other image
  CHECK(image.back() == "1");                                 // one container
  CHECK(lines[5] == "Containers space usage:");
  CHECK(lines[7].starts_with("CONTAINER ID   IMAGE     COMMAND"));
  CHECK(lines[7].find("LOCAL VOLUMES   SIZE      CREATED") != std::string::npos);
  const auto container = lines[8];
  CHECK(container.starts_with(full_id(root, name).substr(0, 12) +
                              "   busybox   \"sh -c 'head -c 1500…\"   1 "));
  CHECK(container.find(" 1.5kB ") != std::string::npos);
  CHECK(container.find("Exited (0)") != std::string::npos);
  CHECK(container.ends_with(name));
  CHECK(lines[10] == "Local Volumes space usage:");
  CHECK(words(lines[12]) == std::vector<std::string>{"VOLUME", "NAME", "LINKS", "SIZE"});
  // By name; the unused volume has no link.
  const auto first = volume < unused ? volume : unused;
  const auto second = volume < unused ? unused : volume;
  CHECK(words(lines[13]) == std::vector<std::string>{first, first == volume ? "1" : "0",
                                                     first == volume ? "2kB" : "0B"});
  CHECK(words(lines[14]) == std::vector<std::string>{second, second == volume ? "1" : "0",
                                                     second == volume ? "2kB" : "0B"});
  CHECK(lines[16] == "Build cache usage: 0B");
  CHECK(lines[18] == "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED");
  remove(root, name);
  REQUIRE(root.run({"volume", "rm", volume, unused}).exit_code == 0);
  CHECK(root.leaks().empty());
}
