// `gctool create` then `start [-a] [-i]`, the logs of foreground containers, and `run --restart`
// without -d, end to end as a user sees them.
#include <algorithm>
#include <filesystem>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

bool full_id(const std::string& id) {
  return id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST_CASE("create makes a container in state Created that start runs", "[root]") {
  TestRoot root;
  const auto name = unique_name("created");
  const auto created =
      root.run({"create", "--name", name, "busybox", "sh", "-c", "echo from-created; exit 3"});
  REQUIRE(created.exit_code == 0);
  CHECK(created.err == "");
  const auto id = first_line(created.out);
  CHECK(full_id(id));
  CHECK(created.out == id + "\n");

  const auto info = root.inspect(name);
  REQUIRE(!info.is_null());
  CHECK(info["Id"] == id);
  CHECK(info["State"]["Status"] == "created");
  CHECK(info["State"]["Running"] == false);
  CHECK(info["State"]["Pid"] == 0);
  const auto ps = root.run({"ps", "-a", "--filter", "name=" + name, "--format", "{{.Status}}"});
  CHECK(ps.out == "Created\n");
  // Not running: ps without -a does not list it.
  CHECK(root.run({"ps", "-q", "--filter", "name=" + name}).out == "");

  const auto started = root.run({"start", name});
  CHECK(started.exit_code == 0);
  CHECK(started.out == name + "\n");
  CHECK(root.run({"wait", name}).out == "3\n");
  CHECK(root.run({"logs", name}).out == "from-created\n");
  CHECK(root.inspect(name)["State"]["Status"] == "exited");
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("start -a runs a created container attached, with its exit code", "[root]") {
  TestRoot root;
  const auto name = unique_name("attach");
  REQUIRE(
      root.run({"create", "--name", name, "busybox", "sh", "-c", "echo out; echo err >&2; exit 4"})
          .exit_code == 0);
  const auto r = root.run({"start", "-a", name});
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK(r.exit_code == 4);
  CHECK(root.inspect(name)["State"]["Status"] == "exited");
  CHECK(root.inspect(name)["State"]["ExitCode"] == 4);
  // The attached run is logged as a detached one would be.
  const auto logs = root.run({"logs", name});
  CHECK(logs.out == "out\n");
  CHECK(logs.err == "err\n");
  // Started again, attached again: the same filesystem.
  CHECK(root.run({"start", "-a", name}).exit_code == 4);
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("create -a records the streams run attaches; start -a attaches both as Docker's",
          "[root]") {
  TestRoot root;
  const auto name = unique_name("createa");
  REQUIRE(root.run({"create", "-a", "stdout", "--name", name, "busybox", "sh", "-c",
                    "echo out; echo err >&2"})
              .exit_code == 0);
  const auto config = root.inspect(name)["Config"];
  CHECK(config["AttachStdin"] == false);
  CHECK(config["AttachStdout"] == true);
  CHECK(config["AttachStderr"] == false);
  // As Docker's CLI: start -a shows stdout and stderr whatever create -a said.
  const auto r = root.run({"start", "-a", name});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK(root.run({"rm", name}).exit_code == 0);

  const auto plain = unique_name("createa");
  REQUIRE(root.run({"create", "-i", "--name", plain, "busybox", "true"}).exit_code == 0);
  const auto defaults = root.inspect(plain)["Config"];
  CHECK(defaults["AttachStdin"] == true);
  CHECK(defaults["AttachStdout"] == true);
  CHECK(defaults["AttachStderr"] == true);
  CHECK(root.run({"rm", plain}).exit_code == 0);
  const auto detached = gctool::test::run_detached(root, {"true"});
  CHECK(root.inspect(detached)["Config"]["AttachStdout"] == false);
  gctool::test::remove(root, detached);

  const auto bad = root.run({"create", "-a", "stdfoo", "busybox", "true"});
  CHECK(bad.exit_code == 125);
  CHECK(bad.out.empty());
  CHECK(bad.err ==
        "gctool: invalid argument \"stdfoo\" for \"-a, --attach\" flag: valid streams are STDIN, "
        "STDOUT and STDERR\n");
  CHECK(root.run({"ps", "-aq"}).out.empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("start -i gives the created container our stdin", "[root]") {
  TestRoot root;
  const auto name = unique_name("stdin");
  REQUIRE(root.run({"create", "-i", "--name", name, "busybox", "tr", "a-z", "A-Z"}).exit_code == 0);
  const auto r = root.run({"start", "-i", name}, "hello\n");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "HELLO\n");
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("a created --rm container is removed once start -a returns", "[root]") {
  TestRoot root;
  const auto name = unique_name("createrm");
  REQUIRE(root.run({"create", "--rm", "--name", name, "busybox", "echo", "once"}).exit_code == 0);
  CHECK(root.inspect(name)["State"]["Status"] == "created");
  const auto r = root.run({"start", "-a", name});
  CHECK(r.out == "once\n");
  CHECK(r.exit_code == 0);
  CHECK(root.inspect(name).is_null());
  CHECK(root.leaks().empty());
}

TEST_CASE("create refuses bad input with one line and creates nothing", "[root]") {
  TestRoot root;
  const auto name = unique_name("bad");
  SECTION("an unknown image") {
    const auto r = root.run({"create", "--pull", "never", "--name", name, "nosuchimage"});
    CHECK(r.exit_code == 125);
  }
  SECTION("no image") {
    const auto r = root.run({"create"});
    CHECK(r.exit_code == 125);
    CHECK(r.err.find("\"create\" requires at least 1 argument") != std::string::npos);
  }
  SECTION("--rm with a restart policy") {
    const auto r = root.run({"create", "--rm", "--restart", "always", "busybox", "true"});
    CHECK(r.exit_code == 125);
    CHECK(r.err == "gctool: conflicting options: cannot specify both --restart and --rm\n");
  }
  SECTION("start -a of several containers") {
    const auto r = root.run({"start", "-a", "one", "two"});
    CHECK(r.exit_code == 125);
    CHECK(r.err == "gctool: you cannot start and attach multiple containers at once\n");
  }
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("a foreground container's output is in its log", "[root]") {
  TestRoot root;
  const auto name = unique_name("fglog");
  const auto r =
      root.run({"run", "--name", name, "busybox", "sh", "-c", "echo hi; echo oops >&2; echo bye"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hi\nbye\n");
  CHECK(r.err == "oops\n");
  const auto logs = root.run({"logs", name});
  CHECK(logs.exit_code == 0);
  CHECK(logs.out == "hi\nbye\n");
  CHECK(logs.err == "oops\n");
  // A large output reaches both the terminal and the log in full.
  const auto big_name = unique_name("fgbig");
  const auto big = root.run({"run", "--name", big_name, "busybox", "sh", "-c",
                             "i=0; while [ $i -lt 20000 ]; do echo line$i; i=$((i+1)); done"});
  CHECK(big.exit_code == 0);
  CHECK(std::count(big.out.begin(), big.out.end(), '\n') == 20000);
  const auto big_logs = root.run({"logs", big_name});
  CHECK(big_logs.out == big.out);
  CHECK(root.run({"rm", name, big_name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run --restart without -d is accepted and kept for start", "[root]") {
  TestRoot root;
  const auto name = unique_name("fgrestart");
  const auto r =
      root.run({"run", "--restart", "on-failure:2", "--name", name, "busybox", "echo", "hi"});
  CHECK(r.exit_code == 0);
  CHECK(r.err == "");
  CHECK(r.out == "hi\n");
  CHECK(root.inspect(name)["State"]["Status"] == "exited");
  CHECK(root.run({"logs", name}).out == "hi\n");
  CHECK(root.run({"rm", name}).exit_code == 0);
  const auto bad = root.run({"run", "--restart", "sometimes", "busybox", "true"});
  CHECK(bad.exit_code == 125);
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}
