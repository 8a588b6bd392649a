// rename, diff, top and wait of several containers, as Docker's verbs show them.
#include <sstream>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

TEST_CASE("rename gives a running container a name that stays after it exits", "[root]") {
  TestRoot root;
  const auto name = gctool::test::run_detached(root, {"sleep", "300"});
  const auto other = unique_name("other");
  REQUIRE(root.run({"run", "--name", other, "--network", "none", "busybox", "true"}).exit_code ==
          0);
  const auto renamed = unique_name("renamed");
  const auto ok = root.run({"rename", name, renamed});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.empty());
  CHECK(root.inspect(renamed)["Name"] == "/" + renamed);
  CHECK(root.run({"inspect", name}).exit_code != 0);
  CHECK(root.run({"ps", "--format", "{{.Names}}"}).out == renamed + "\n");

  const auto taken = root.run({"rename", renamed, other});
  CHECK(taken.exit_code == 1);
  CHECK(taken.err.starts_with("gctool: the container name \"/" + other + "\" is already in use"));
  const auto same = root.run({"rename", renamed, renamed});
  CHECK(same.exit_code == 1);
  CHECK(same.err == "gctool: renaming a container with the same name as its current name\n");
  const auto invalid = root.run({"rename", renamed, "bad name"});
  CHECK(invalid.exit_code == 1);
  CHECK(invalid.err ==
        "gctool: invalid container name \"bad name\": only "
        "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n");
  const auto missing = root.run({"rename", "nosuch", "newname"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "gctool: no such container: nosuch\n");
  CHECK(root.inspect(renamed)["State"]["Status"] == "running");

  // Its supervisor records the exit with the new name.
  REQUIRE(root.run({"stop", "-t", "1", renamed}).exit_code == 0);
  CHECK(root.inspect(renamed)["State"]["Status"] == "exited");
  CHECK(root.run({"ps", "-a", "--filter", "name=" + renamed, "--format", "{{.Names}}"}).out ==
        renamed + "\n");
  remove(root, renamed);
  remove(root, other);
  CHECK(root.leaks().empty());
}

TEST_CASE("diff lists what a container added, changed and deleted", "[root]") {
  TestRoot root;
  const auto name = unique_name("diff");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "busybox", "sh", "-c",
                    "echo x > /newfile; rm /bin/ls; echo >> /etc/passwd; mkdir /newdir; "
                    "touch /newdir/f"})
              .exit_code == 0);
  const auto diff = root.run({"diff", name});
  INFO(diff.err);
  CHECK(diff.exit_code == 0);
  CHECK(diff.out ==
        "C /bin\nD /bin/ls\nC /etc\nC /etc/passwd\nA /newdir\nA /newdir/f\nA /newfile\n");
  const auto clean = unique_name("clean");
  REQUIRE(root.run({"run", "--name", clean, "--network", "none", "busybox", "true"}).exit_code ==
          0);
  CHECK(root.run({"diff", clean}).out.empty());
  const auto missing = root.run({"diff", "nosuch"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "gctool: no such container: nosuch\n");
  remove(root, name);
  remove(root, clean);
  CHECK(root.leaks().empty());
}

TEST_CASE("top shows the container's processes in ps's columns", "[root]") {
  TestRoot root;
  const auto name = gctool::test::run_detached(root, {"sleep", "300"});
  const auto pid = std::to_string(root.inspect(name)["State"]["Pid"].get<int>());
  const auto top = root.run({"top", name});
  INFO(top.err);
  REQUIRE(top.exit_code == 0);
  std::istringstream lines(top.out);
  std::string header, row, extra;
  std::getline(lines, header);
  std::getline(lines, row);
  CHECK(!std::getline(lines, extra));  // only the container's process
  // docker top's layout: cells padded to at least 20 columns.
  CHECK(header.starts_with("UID                 PID                 PPID"));
  CHECK(header.ends_with("CMD"));
  CHECK(row.starts_with("root"));
  CHECK(row.substr(20, pid.size() + 1) == pid + " ");
  CHECK(row.ends_with("sleep 300"));

  const auto custom = root.run({"top", name, "-o", "pid,args"});
  INFO(custom.err);
  CHECK(custom.exit_code == 0);
  CHECK(custom.out.starts_with("PID                 COMMAND\n"));
  CHECK(custom.out.find(pid + std::string(20 - pid.size(), ' ') + "sleep 300\n") !=
        std::string::npos);
  const auto no_pid = root.run({"top", name, "-o", "args"});
  CHECK(no_pid.exit_code == 1);
  CHECK(no_pid.err == "gctool: Couldn't find PID field in ps output\n");
  remove(root, name);
  const auto stopped = root.run({"top", name});
  CHECK(stopped.exit_code == 1);
  CHECK(stopped.err == "gctool: no such container: " + name + "\n");
  CHECK(root.leaks().empty());
}

TEST_CASE("wait of several containers prints each exit code in order", "[root]") {
  TestRoot root;
  const auto a = gctool::test::run_detached(root, {"sh", "-c", "sleep 0.3; exit 3"});
  const auto b = gctool::test::run_detached(root, {"sh", "-c", "exit 5"});
  const auto wait = root.run({"wait", a, b});
  INFO(wait.err);
  CHECK(wait.exit_code == 0);
  CHECK(wait.out == "3\n5\n");
  const auto partly = root.run({"wait", a, "nosuch", b});
  CHECK(partly.exit_code == 1);
  CHECK(partly.out == "3\n5\n");
  CHECK(partly.err == "gctool: no such container: nosuch\n");
  remove(root, a);
  remove(root, b);
  CHECK(root.leaks().empty());
}

TEST_CASE("a relative --root names a directory under where gctool runs", "[root]") {
  TestRoot root;
  const std::filesystem::path dir(root.root());
  // The container's init opens its root under --root after it left gctool's working directory.
  const auto r = gctool::test::run_program(
      {"sh", "-c", "cd \"$1\" && exec \"$2\" --root \"$3\" run --rm --network none busybox echo hi",
       "sh", dir.parent_path().string(), GCTOOL_BINARY, dir.filename().string()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hi\n");
  CHECK(root.run({"ps", "-a", "-q"}).out.empty());
  CHECK(root.leaks().empty());
}
