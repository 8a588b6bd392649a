// `commit` and `export`: a container's changes as an image that runs them, and its merged
// filesystem as a tar; symlinks made in the container are never followed on the host.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "container_support.hpp"
#include "image_support.hpp"

namespace fs = std::filesystem;
using gctool::test::TempDir;
using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// Changes made in the first container: a new file, an owned file, a deleted file, a symlink to a
// host secret, a directory with files.
const std::string kChanges =
    "echo changed > /etc/motd; rm /etc/group; ln -s /etc/shadow /shadow-link; mkdir /opq; "
    "echo a > /opq/a; echo b > /opq/b; chown 65534:65534 /opq/b; chmod 0640 /opq/b";

const std::string kCheck =
    "cat /etc/motd; test -e /etc/group || echo group deleted; readlink /shadow-link; ls /opq; "
    "stat -c '%u:%g %a' /opq/b";

const std::string kCheckOut = "changed\ngroup deleted\n/etc/shadow\na\nb\n65534:65534 640\n";

// Runs kChanges in a container named name and commits it as image; returns the printed id.
std::string commit_changes(const TestRoot& root, const std::string& name,
                           const std::string& image) {
  REQUIRE(root.run({"run", "--name", name, "busybox", "sh", "-c", kChanges}).exit_code == 0);
  const auto committed = root.run({"commit", name, image});
  INFO(committed.err);
  REQUIRE(committed.exit_code == 0);
  const std::string id = trimmed(committed.out);
  CHECK(id.starts_with("sha256:"));
  CHECK(id.size() == 71);
  return id;
}

// Whether text occurs in any regular file under dir.
bool found_under(const fs::path& dir, const std::string& text) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::error_code ec;
    if (entry.symlink_status(ec).type() == fs::file_type::regular &&
        gctool::test::read_bytes(entry.path()).find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("commit then run shows the container's changes", "[root]") {
  TestRoot root;
  const auto c1 = unique_name("c1");
  const auto image = unique_name("committed") + ":v1";
  const std::string id = commit_changes(root, c1, image);
  CHECK(root.run({"run", "--rm", image, "sh", "-c", kCheck}).out == kCheckOut);

  SECTION("the symlink is a symlink in the layer, the host's /etc/shadow is nowhere") {
    TempDir work{"gct-commit"};
    const auto archive = work.path() / "image.tar";
    REQUIRE(root.run({"image", "save", "-o", archive.string(), image}).exit_code == 0);
    const auto files = gctool::test::read_tar(gctool::test::read_bytes(archive));
    const auto manifest = nlohmann::json::parse(files.at("manifest.json").content);
    const auto top = manifest.at(0).at("Layers").back().get<std::string>();
    const auto layer = gctool::test::read_tar(files.at(top).content);
    REQUIRE(layer.count("shadow-link") == 1);
    CHECK(layer.at("shadow-link").type == AE_IFLNK);
    CHECK(layer.at("shadow-link").symlink == "/etc/shadow");
    CHECK(layer.count("etc/.wh.group") == 1);
    CHECK(layer.at("etc/motd").content == "changed\n");
    CHECK(layer.at("opq/b").uid == 65534);
    CHECK(layer.at("opq/b").mode == 0640);
    CHECK(layer.count("bin/busybox") == 0);  // only the changes
    const std::string shadow = gctool::test::read_bytes("/etc/shadow");
    if (shadow.size() > 8) {
      CHECK_FALSE(found_under(root.root(), shadow));
      CHECK(gctool::test::read_bytes(archive).find(shadow) == std::string::npos);
    }
  }

  SECTION("the container's config, deleted files and opaque directories carry over") {
    const auto c2 = unique_name("c2");
    REQUIRE(root.run({"run", "--name", c2, "-e", "FOO=from c2", "-w", "/tmp", image, "sh", "-c",
                      "rm -rf /opq && mkdir /opq && echo c > /opq/c; echo $FOO; pwd"})
                .exit_code == 0);
    const auto second = unique_name("second");
    REQUIRE(root.run({"commit", c2, second}).exit_code == 0);
    // No command: the committed Cmd (c2's) runs again with c2's Env and WorkingDir.
    CHECK(root.run({"run", "--rm", second}).out == "from c2\n/tmp\n");
    CHECK(root.run({"run", "--rm", second, "sh", "-c", "ls /opq; test -e /etc/group || echo gone"})
              .out == "c\ngone\n");
    CHECK(root.run({"rm", c2}).exit_code == 0);
  }

  SECTION("save then load into a fresh root keeps the id and runs the same") {
    TempDir work{"gct-commit"};
    const auto archive = work.path() / "image.tar";
    REQUIRE(root.run({"image", "save", "-o", archive.string(), image}).exit_code == 0);
    TestRoot fresh;
    REQUIRE(fresh.run({"image", "load", "-i", archive.string()}).out ==
            "Loaded image: " + image + "\n");
    CHECK(trimmed(fresh.run({"image", "ls", "-q", "--no-trunc"}).out).find(id) !=
          std::string::npos);
    CHECK(fresh.run({"run", "--rm", image, "sh", "-c", kCheck}).out == kCheckOut);
    CHECK(fresh.leaks().empty());
  }

  CHECK(root.run({"rm", c1}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("export writes the merged filesystem of an exited container", "[root]") {
  TestRoot root;
  const auto name = unique_name("ex");
  REQUIRE(root.run({"run", "--name", name, "busybox", "sh", "-c", kChanges}).exit_code == 0);
  TempDir work{"gct-export"};
  const auto file = work.path() / "fs.tar";
  const auto exported = root.run({"export", "-o", file.string(), name});
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.out.empty());
  CHECK_FALSE(fs::exists(file.string() + ".tmp"));
  const auto entries = gctool::test::read_tar(gctool::test::read_bytes(file));
  CHECK(entries.at("bin/busybox").type == AE_IFREG);
  CHECK(entries.at("bin/sh").symlink == "busybox");
  CHECK(entries.at("etc/motd").content == "changed\n");
  CHECK(entries.at("etc/passwd").content.starts_with("root:"));
  CHECK(entries.at("shadow-link").type == AE_IFLNK);
  CHECK(entries.at("opq/a").content == "a\n");
  CHECK(entries.count("etc/group") == 0);
  for (const auto& [path, entry] : entries) {
    INFO(path);
    CHECK(path.find(".wh.") == std::string::npos);
    CHECK(entry.type != AE_IFCHR);
  }
  // The same on stdout.
  const auto piped = root.run({"export", name});
  REQUIRE(piped.exit_code == 0);
  CHECK(piped.out == gctool::test::read_bytes(file));
  CHECK(root.run({"export", "nosuchcontainer"}).exit_code == 1);  // as Docker's daemon error
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("commit and export work on a running container", "[root]") {
  TestRoot root;
  const auto name = unique_name("live");
  REQUIRE(root.run({"run", "-d", "--network", "none", "--name", name, "busybox", "sh", "-c",
                    "echo live > /live; rm /etc/group; sleep 100"})
              .exit_code == 0);
  const auto info = gctool::test::wait_running(root, name);
  REQUIRE_FALSE(info.is_null());
  const auto upper = fs::path(root.root()) / "containers" / info["Id"].get<std::string>() / "upper";
  // The whiteout of /etc/group appears in the upper dir after /live.
  std::error_code ec;
  for (int i = 0; i < 200 && !fs::exists(upper / "etc/group", ec); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto image = unique_name("fromlive");
  REQUIRE(root.run({"commit", name, image}).exit_code == 0);
  const auto exported = root.run({"export", name});
  REQUIRE(exported.exit_code == 0);
  const auto entries = gctool::test::read_tar(exported.out);
  CHECK(entries.at("live").content == "live\n");
  CHECK(entries.count("etc/group") == 0);
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.run({"run", "--rm", image, "cat", "/live"}).out == "live\n");
  CHECK(root.leaks().empty());
}
