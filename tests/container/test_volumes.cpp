// Named volumes: `run -v NAME:/path` and `gctool volume create|ls|inspect|rm|prune`, end to end.
#include <algorithm>
#include <filesystem>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("a named volume keeps its data from one --rm container to the next", "[root]") {
  TestRoot root;
  const std::string vol = unique_name("vol");
  CHECK(root.run({"run", "--rm", "-v", vol + ":/d", "busybox", "sh", "-c", "echo kept > /d/f"})
            .exit_code == 0);
  const auto data = std::filesystem::path(root.root()) / "volumes" / vol / "_data";
  CHECK(std::filesystem::is_directory(data));
  const auto read = root.run({"run", "--rm", "-v", vol + ":/e", "busybox", "cat", "/e/f"});
  CHECK(read.exit_code == 0);
  CHECK(read.out == "kept\n");

  const auto ls = root.run({"volume", "ls"});
  CHECK(ls.exit_code == 0);
  CHECK(ls.out.find("DRIVER") == 0);
  CHECK(ls.out.find("local") != std::string::npos);
  CHECK(ls.out.find(vol) != std::string::npos);
  CHECK(root.run({"volume", "ls", "-q"}).out == vol + "\n");

  const auto inspect = root.run({"volume", "inspect", vol});
  REQUIRE(inspect.exit_code == 0);
  const auto j = nlohmann::json::parse(inspect.out).at(0);
  CHECK(j.at("Name") == vol);
  CHECK(j.at("Driver") == "local");
  CHECK(j.at("Scope") == "local");
  CHECK(j.at("Mountpoint") == data.string());
  CHECK(!j.at("CreatedAt").get<std::string>().empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("a volume in use by an exited container is not removed", "[root]") {
  TestRoot root;
  const std::string vol = unique_name("vol");
  const std::string name = unique_name("c");
  CHECK(root.run({"run", "--name", name, "-v", vol + ":/d", "busybox", "true"}).exit_code == 0);
  const auto mounts = root.inspect(name).at("Mounts");
  REQUIRE(mounts.size() == 1);
  CHECK(mounts[0].at("Type") == "volume");
  CHECK(mounts[0].at("Name") == vol);
  CHECK(mounts[0].at("Destination") == "/d");
  CHECK(mounts[0].at("RW") == true);
  const std::string id = root.inspect(name).at("Id");

  for (const bool force : {false, true}) {
    const auto busy =
        force ? root.run({"volume", "rm", "-f", vol}) : root.run({"volume", "rm", vol});
    CHECK(busy.exit_code == 125);
    CHECK(line_count(busy.err) == 1);
    CHECK(busy.err.find("volume is in use - [" + id + "]") != std::string::npos);
  }
  const auto dir = std::filesystem::path(root.root()) / "volumes" / vol;
  CHECK(std::filesystem::exists(dir));
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(std::filesystem::exists(dir));  // rm of a container keeps its named volumes
  const auto rm = root.run({"volume", "rm", vol});
  CHECK(rm.exit_code == 0);
  CHECK(rm.out == vol + "\n");
  CHECK(!std::filesystem::exists(dir));
  CHECK(root.run({"volume", "rm", vol}).exit_code == 125);
  CHECK(root.run({"volume", "rm", "-f", vol}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("an invalid volume name fails with one line and leaves nothing", "[root]") {
  TestRoot root;
  for (const std::string bad : {"da:ta:/d:ro", "-data:/d", "./data:/d", "x:/d"}) {
    const auto result = root.run({"run", "--rm", "-v", bad, "busybox", "true"});
    CHECK(result.exit_code == 125);
    CHECK(line_count(result.err) == 1);
  }
  CHECK(root.run({"volume", "create", "bad/name"}).exit_code == 125);
  CHECK(root.run({"volume", "ls", "-q"}).out.empty());
  CHECK(!std::filesystem::exists(std::filesystem::path(root.root()) / "volumes" / "bad"));
  CHECK(root.leaks().empty());
}

TEST_CASE("a named volume over /dev or its mounts is refused before anything is made", "[root]") {
  TestRoot root;
  for (const std::string destination :
       {"/dev", "/dev/", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/console", "/dev/null"}) {
    CAPTURE(destination);
    const auto result = root.run({"run", "--rm", "-v", "devvol:" + destination, "busybox", "true"});
    CHECK(result.exit_code == 125);
    CHECK(line_count(result.err) == 1);
    CHECK(result.err.find("which gctool sets up itself") != std::string::npos);
  }
  CHECK(root.run({"volume", "ls", "-q"}).out.empty());
  CHECK(root.run({"ps", "-aq"}).out.empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("a volume led to /dev by a symlink in the image is refused", "[root]") {
  TestRoot root;
  // A container of the image that leaves a link /devlink -> /dev in its upper layer, committed.
  REQUIRE(
      root.run({"run", "--name", "linker", "busybox", "ln", "-s", "/dev", "/devlink"}).exit_code ==
      0);
  REQUIRE(root.run({"commit", "linker", "linked"}).exit_code == 0);
  const auto result = root.run({"run", "--rm", "-v", "devvol:/devlink", "linked", "true"});
  CHECK(result.exit_code == 125);
  CHECK(line_count(result.err) == 1);
  CHECK(result.err.find("leads to \"/dev\": can't be /dev") != std::string::npos);
  CHECK(root.run({"rm", "linker"}).exit_code == 0);
  CHECK(root.run({"image", "rm", "linked"}).exit_code == 0);
  root.run({"volume", "rm", "devvol"});
  CHECK(root.leaks().empty());
}

TEST_CASE("a volume mounted :ro is read-only", "[root]") {
  TestRoot root;
  const std::string vol = unique_name("vol");
  CHECK(root.run({"volume", "create", vol}).out == vol + "\n");
  CHECK(root.run({"run", "--rm", "-v", vol + ":/d", "busybox", "sh", "-c", "echo x > /d/f"})
            .exit_code == 0);
  const auto ro = root.run(
      {"run", "--rm", "-v", vol + ":/d:ro", "busybox", "sh", "-c", "cat /d/f && echo y > /d/g"});
  CHECK(ro.out == "x\n");
  CHECK(ro.exit_code != 0);
  CHECK(!std::filesystem::exists(std::filesystem::path(root.root()) / "volumes" / vol / "_data" /
                                 "g"));
  CHECK(root.leaks().empty());
}

TEST_CASE("volume create without a name, and prune", "[root]") {
  TestRoot root;
  const auto created = root.run({"volume", "create"});
  CHECK(created.exit_code == 0);
  REQUIRE(created.out.size() == 65);
  const std::string name = created.out.substr(0, 64);
  CHECK(root.run({"volume", "create", name}).out == created.out);  // exists: no error
  // Docker 23+: a volume made by `volume create` is not anonymous, so only -a prunes it.
  CHECK(root.run({"volume", "prune", "-f"}).out == "Total reclaimed space: 0B\n");
  const auto pruned = root.run({"volume", "prune", "-a", "-f"});
  CHECK(pruned.exit_code == 0);
  CHECK(pruned.out.find(name) != std::string::npos);
  CHECK(root.run({"volume", "ls", "-q"}).out.empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("a new volume gets the image's content at its mount point, symlinks as links", "[root]") {
  TestRoot root;
  const std::string vol = unique_name("vol");
  const auto etc = root.run({"run", "--rm", "-v", vol + ":/etc", "busybox", "cat", "/etc/passwd"});
  CHECK(etc.exit_code == 0);
  CHECK(etc.out.find("root:") == 0);
  const auto volumes = std::filesystem::path(root.root()) / "volumes";
  CHECK(std::filesystem::is_regular_file(volumes / vol / "_data" / "passwd"));

  // An image whose directory holds symlinks that lead out of its root: copied as links.
  const std::string name = unique_name("c");
  const std::string image = unique_name("img");
  REQUIRE(root.run({"run", "--name", name, "busybox", "sh", "-c",
                    "mkdir /d && ln -s / /d/up && ln -s /etc/passwd /d/pw && echo x > /d/f"})
              .exit_code == 0);
  REQUIRE(root.run({"commit", name, image}).exit_code == 0);
  CHECK(root.run({"rm", name}).exit_code == 0);
  const std::string vol2 = unique_name("vol");
  CHECK(root.run({"run", "--rm", "-v", vol2 + ":/d", image, "cat", "/d/f"}).out == "x\n");
  const auto data = volumes / vol2 / "_data";
  CHECK(std::filesystem::is_symlink(data / "up"));
  CHECK(std::filesystem::read_symlink(data / "up") == "/");
  CHECK(std::filesystem::is_symlink(data / "pw"));
  // A volume with content keeps it as it is: nothing is copied again.
  CHECK(root.run({"run", "--rm", "-v", vol2 + ":/d", image, "rm", "/d/f"}).exit_code == 0);
  CHECK(root.run({"run", "--rm", "-v", vol2 + ":/d", image, "ls", "/d"}).out == "pw\nup\n");
  CHECK(root.leaks().empty());
}
