// `cp` as `docker cp`: both directions, on a running and a stopped container, directories under
// Docker's naming rules, -a and -L, tar streams with '-', and no symlink in the container leading
// a copy out of it.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TempDir;
using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string exec_out(const TestRoot& root, const std::string& name, const std::string& script) {
  const auto out = root.run({"exec", name, "sh", "-c", script});
  INFO(out.err);
  CHECK(out.exit_code == 0);
  return out.out;
}

}  // namespace

TEST_CASE("cp copies files and directories out of and into a running container", "[root]") {
  TestRoot root;
  TempDir host("gct-cp");
  const auto name = gctool::test::run_detached(
      root, {"sh", "-c",
             "mkdir -p /d/sub && echo one > /d/a && echo two > /d/sub/b && ln -s /d/a /d/alink "
             "&& touch /ready && exec sleep 300"});
  REQUIRE(gctool::test::wait_until([&] {
    return root.run({"exec", name, "test", "-e", "/ready"}).exit_code == 0;
  }));
  const auto cp = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "cp");
    const auto out = root.run(args);
    INFO(out.err);
    CHECK(out.exit_code == 0);
    CHECK(out.out.empty());
    CHECK(out.err.empty());
  };

  // Out: a file under a new name, a directory to a new name, into an existing directory, and
  // a directory's entries with "DIR/.".
  cp({name + ":/d/a", (host.path() / "a-copy").string()});
  CHECK(read_file(host.path() / "a-copy") == "one\n");
  cp({name + ":/d", (host.path() / "newdir").string()});
  CHECK(read_file(host.path() / "newdir/a") == "one\n");
  CHECK(read_file(host.path() / "newdir/sub/b") == "two\n");
  std::filesystem::create_directory(host.path() / "into");
  cp({name + ":/d", (host.path() / "into").string()});
  CHECK(read_file(host.path() / "into/d/sub/b") == "two\n");
  std::filesystem::create_directory(host.path() / "contents");
  cp({name + ":/d/.", (host.path() / "contents").string()});
  CHECK(read_file(host.path() / "contents/a") == "one\n");
  CHECK(!std::filesystem::exists(host.path() / "contents/d"));

  // A symlink is copied as a link; -L copies what it points to.
  cp({name + ":/d/alink", (host.path() / "link").string()});
  CHECK(std::filesystem::is_symlink(host.path() / "link"));
  CHECK(std::filesystem::read_symlink(host.path() / "link") == "/d/a");
  cp({"-L", name + ":/d/alink", (host.path() / "followed").string()});
  CHECK(!std::filesystem::is_symlink(host.path() / "followed"));
  CHECK(read_file(host.path() / "followed") == "one\n");

  // In: root owns what is copied in, unless -a keeps the owner.
  write_file(host.path() / "in.txt", "hello\n");
  REQUIRE(::chown((host.path() / "in.txt").c_str(), 1234, 2345) == 0);
  cp({(host.path() / "in.txt").string(), name + ":/d/"});
  CHECK(exec_out(root, name, "cat /d/in.txt; stat -c %u:%g /d/in.txt") == "hello\n0:0\n");
  cp({"-a", (host.path() / "in.txt").string(), name + ":/d/kept.txt"});
  CHECK(exec_out(root, name, "stat -c %u:%g /d/kept.txt") == "1234:2345\n");
  cp({(host.path() / "newdir").string(), name + ":/copied"});
  CHECK(exec_out(root, name, "cat /copied/sub/b") == "two\n");
  // An existing file is replaced.
  write_file(host.path() / "in.txt", "again\n");
  cp({(host.path() / "in.txt").string(), name + ":/d/a"});
  CHECK(exec_out(root, name, "cat /d/a") == "again\n");

  // '-': a tar of the source on stdout, and a tar on stdin extracted into a directory.
  const auto tar = root.run({"cp", name + ":/d/sub", "-"});
  REQUIRE(tar.exit_code == 0);
  CHECK(tar.out.find("sub/b") != std::string::npos);
  exec_out(root, name, "mkdir /fromtar");
  const auto untar = root.run({"cp", "-", name + ":/fromtar"}, tar.out);
  INFO(untar.err);
  CHECK(untar.exit_code == 0);
  CHECK(exec_out(root, name, "cat /fromtar/sub/b") == "two\n");
  const auto not_dir = root.run({"cp", "-", name + ":/d/a"}, tar.out);
  CHECK(not_dir.exit_code == 1);
  CHECK(not_dir.err == "gctool: destination " + name + ":/d/a must be a directory\n");

  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("cp never follows a symlink in the container out of its root", "[root]") {
  TestRoot root;
  TempDir host("gct-cp");
  const auto outside = host.path() / "outside";
  std::filesystem::create_directory(outside);
  write_file(outside / "secret", "host secret\n");
  write_file(host.path() / "payload", "payload\n");
  const auto name = gctool::test::run_detached(
      root,
      {"sh", "-c",
       "ln -s " + outside.string() + " /abs && ln -s ../../../../../../.. /rel && " + "ln -s " +
           (outside / "secret").string() + " /secretlink && touch /ready && " + "exec sleep 300"});
  REQUIRE(gctool::test::wait_until([&] {
    return root.run({"exec", name, "test", "-e", "/ready"}).exit_code == 0;
  }));
  // Into the container through an absolute link: the link's target is taken inside the root,
  // where it does not exist.
  const auto abs = root.run({"cp", (host.path() / "payload").string(), name + ":/abs/x"});
  CHECK(abs.exit_code == 1);
  CHECK(abs.err.starts_with("gctool: no such directory: " + name + ":/abs"));
  CHECK(!std::filesystem::exists(outside / "x"));
  // Through a relative link that climbs: ".." stops at the container's root.
  const auto rel = root.run({"cp", (host.path() / "payload").string(), name + ":/rel/"});
  INFO(rel.err);
  CHECK(rel.exit_code == 0);
  CHECK(exec_out(root, name, "cat /payload") == "payload\n");
  CHECK(!std::filesystem::exists("/payload"));
  // Out of the container through a link with -L: the host's file is never read.
  const auto secret = root.run({"cp", "-L", name + ":/secretlink", (host.path() / "got").string()});
  CHECK(secret.exit_code == 1);
  CHECK(!std::filesystem::exists(host.path() / "got"));
  const auto via_abs = root.run({"cp", name + ":/abs/secret", (host.path() / "got").string()});
  CHECK(via_abs.exit_code == 1);
  CHECK(via_abs.err == "gctool: no such file or directory: " + name + ":/abs/secret\n");
  CHECK(!std::filesystem::exists(host.path() / "got"));
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("cp works on a stopped container, and its copies are there when it starts", "[root]") {
  TestRoot root;
  TempDir host("gct-cp");
  const auto name = unique_name("cpstop");
  // Prints /d/new when it is there: what the container itself sees once started again.
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "busybox", "sh", "-c",
                    "cat /d/new 2>/dev/null; mkdir -p /d && echo inside > /d/f"})
              .exit_code == 0);
  const auto out = root.run({"cp", name + ":/d/f", (host.path() / "f").string()});
  INFO(out.err);
  CHECK(out.exit_code == 0);
  CHECK(read_file(host.path() / "f") == "inside\n");
  write_file(host.path() / "new", "new file\n");
  CHECK(root.run({"cp", (host.path() / "new").string(), name + ":/d/new"}).exit_code == 0);
  CHECK(gctool::test::mounts_under(root.root()).empty());  // the copy's overlay is nowhere
  CHECK(root.inspect(name)["State"]["Status"] == "exited");
  REQUIRE(root.run({"start", name}).exit_code == 0);
  REQUIRE(root.run({"wait", name}).exit_code == 0);
  CHECK(root.run({"logs", name}).out == "new file\n");
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("cp: bad input is one line, and nothing is copied", "[root]") {
  TestRoot root;
  TempDir host("gct-cp");
  const auto name = unique_name("cpbad");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "busybox", "true"}).exit_code == 0);
  const auto both_local = root.run({"cp", "/etc/hostname", (host.path() / "x").string()});
  CHECK(both_local.exit_code == 1);
  CHECK(both_local.err == "gctool: must specify at least one container source\n");
  const auto missing = root.run({"cp", name + ":/nosuch", (host.path() / "x").string()});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "gctool: no such file or directory: " + name + ":/nosuch\n");
  const auto no_container = root.run({"cp", "nosuch:/etc", (host.path() / "x").string()});
  CHECK(no_container.exit_code == 1);
  CHECK(no_container.err == "gctool: no such container: nosuch\n");
  const auto no_parent = root.run({"cp", name + ":/bin/sh", (host.path() / "a/b").string()});
  CHECK(no_parent.exit_code == 1);
  CHECK(no_parent.err == "gctool: no such directory: " + (host.path() / "a").string() + "\n");
  write_file(host.path() / "file", "x");
  const auto dir_on_file = root.run({"cp", name + ":/etc", (host.path() / "file").string()});
  CHECK(dir_on_file.exit_code == 1);
  CHECK(dir_on_file.err == "gctool: cannot overwrite non-directory " +
                               (host.path() / "file").string() + " with directory\n");
  const auto flag = root.run({"cp", "--bogus", name + ":/etc", host.str()});
  CHECK(flag.exit_code == 125);
  CHECK(flag.err.starts_with("gctool: unknown flag: --bogus"));
  CHECK(std::filesystem::directory_iterator(host.path()) != std::filesystem::directory_iterator());
  CHECK(!std::filesystem::exists(host.path() / "x"));
  CHECK(!std::filesystem::exists(host.path() / "a"));
  CHECK(read_file(host.path() / "file") == "x");
  remove(root, name);
  CHECK(root.leaks().empty());
}
