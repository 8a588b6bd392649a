// Images made elsewhere load and run: two-layer archives made by the test over busybox, `podman
// save` archives, and archives written by `image save`.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "container_support.hpp"
#include "image_support.hpp"

namespace fs = std::filesystem;
using gctool::test::TarBuilder;
using gctool::test::TempDir;
using gctool::test::TestImage;
using gctool::test::TestRoot;

namespace {

// busybox below, and above it a layer that adds /data/top and deletes /etc/group.
TestImage busybox_two_layers() {
  TestImage image;
  image.layers = {gctool::test::read_bytes(gctool::test::busybox_tarball()),
                  TarBuilder()
                      .dir("data")
                      .file("data/top", "from the top layer\n")
                      .dir("etc")
                      .file("etc/.wh.group", "")
                      .finish()};
  image.config = {{"Cmd",
                   {"sh", "-c",
                    "cat /data/top; echo X=$X; pwd; test -e /etc/group || echo group deleted; "
                    "test -e /etc/passwd && echo passwd kept"}},
                  {"Env", {"PATH=/bin", "X=from the image"}},
                  {"WorkingDir", "/data"}};
  return image;
}

const std::string kExpected =
    "from the top layer\nX=from the image\n/data\ngroup deleted\npasswd kept\n";

}  // namespace

TEST_CASE("two-layer docker-archive and OCI layout images run with their Cmd and Env", "[root]") {
  TestRoot root;
  const auto image = busybox_two_layers();
  SECTION("docker-archive") {
    const auto name = gctool::test::unique_name("two") + ":v1";
    const auto loaded = root.run({"image", "load"}, image.docker_archive(name));
    REQUIRE(loaded.exit_code == 0);
    CHECK(loaded.out == "Loaded image: " + name + "\n");
    const auto r = root.run({"run", "--rm", name});
    CHECK(r.err == "");
    CHECK(r.out == kExpected);
  }
  SECTION("OCI layout with gzip layers") {
    const auto name = "localhost/" + gctool::test::unique_name("oci") + ":latest";
    const auto loaded = root.run({"image", "load"}, gctool::test::tar_of(image.oci_layout(name)));
    REQUIRE(loaded.exit_code == 0);
    CHECK(loaded.out == "Loaded image: " + name + "\n");
    CHECK(root.run({"run", "--rm", name}).out == kExpected);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("save then load into a fresh root runs the same", "[root]") {
  TestRoot root;
  TempDir work{"gct-save"};
  const auto name = gctool::test::unique_name("saved") + ":v1";
  REQUIRE(root.run({"image", "load"}, busybox_two_layers().docker_archive(name)).exit_code == 0);
  const auto archive = work.path() / "saved.tar";
  REQUIRE(root.run({"image", "save", "-o", archive.string(), name}).exit_code == 0);

  TestRoot fresh;
  const auto loaded = fresh.run({"image", "load", "-i", archive.string()});
  REQUIRE(loaded.exit_code == 0);
  CHECK(loaded.out == "Loaded image: " + name + "\n");
  // The test's layer tars are not laid out as gctool packs them, so the id may differ (images
  // gctool made keep theirs: test_commit); what runs must not.
  CHECK(fresh.run({"run", "--rm", name}).out == kExpected);
  CHECK(root.leaks().empty());
  CHECK(fresh.leaks().empty());
}

TEST_CASE("podman save archives load and run", "[root]") {
  TestRoot root;
  TempDir work{"gct-podman"};
  // Podman refuses a run root path longer than 50 characters, as the build tree's can be.
  const TempDir runroot("gct-pd", "/run");
  const std::string name = "localhost/" + gctool::test::unique_name("pm") + ":latest";
  const std::vector<std::string> podman = {
      "podman",    "--root",           (work.path() / "storage").string(),
      "--runroot", runroot.str(),      "--storage-driver",
      "vfs",       "--events-backend", "none"};
  const auto podman_run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), podman.begin(), podman.end());
    return gctool::test::run_program(args);
  };
  const auto imported =
      podman_run({"import", "--change", R"(CMD ["sh", "-c", "echo made by podman; echo $P"])",
                  "--change", "ENV P=podman-env", gctool::test::busybox_tarball().string(), name});
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);
  for (const std::string format : {"docker-archive", "oci-archive"}) {
    INFO(format);
    const auto archive = work.path() / (format + ".tar");
    const auto saved = podman_run({"save", "--format", format, "-o", archive.string(), name});
    REQUIRE(saved.exit_code == 0);
    const auto loaded = root.run({"image", "load", "-i", archive.string()});
    REQUIRE(loaded.exit_code == 0);
    CHECK(loaded.out == "Loaded image: " + name + "\n");
    CHECK(root.run({"run", "--rm", name}).out == "made by podman\npodman-env\n");
    REQUIRE(root.run({"image", "rm", name}).exit_code == 0);
  }
  CHECK(root.leaks().empty());
}
