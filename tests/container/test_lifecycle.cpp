// Container state across gctool processes: names, ps, inspect, wait, rm, and reconciling after a
// `gctool run` was killed.
#include <signal.h>

#include <algorithm>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::Background;
using gctool::test::TestRoot;
using gctool::test::unique_name;
using gctool::test::wait_running;

TEST_CASE("names are unique and select containers", "[root]") {
  TestRoot root;
  const auto name = unique_name("dup");
  REQUIRE(root.run({"run", "--name", name, "busybox", "true"}).exit_code == 0);
  const auto second = root.run({"run", "--name", name, "busybox", "true"});
  CHECK(second.exit_code == 125);
  CHECK(second.err.find("is already in use") != std::string::npos);
  const auto ids = root.run({"ps", "-a", "-q", "--no-trunc"});
  CHECK(std::count(ids.out.begin(), ids.out.end(), '\n') == 1);
  const auto id = ids.out.substr(0, 64);
  CHECK(root.inspect(id.substr(0, 5))["Name"] == "/" + name);
  CHECK(root.run({"run", "--name", "bad/name", "busybox", "true"}).exit_code == 125);
  CHECK(root.run({"inspect", "nosuchcontainer"}).exit_code != 0);
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("ps, inspect and wait show exited containers", "[root]") {
  TestRoot root;
  const auto name = unique_name("ps");
  REQUIRE(root.run({"run", "--name", name, "busybox", "sh", "-c", "exit 3"}).exit_code == 3);
  CHECK(root.run({"ps", "-q"}).out.empty());
  const auto table = root.run({"ps", "-a"});
  CHECK(table.out.starts_with("CONTAINER ID"));
  CHECK(table.out.find("Exited (3)") != std::string::npos);
  CHECK(table.out.find("\"sh -c 'exit 3'\"") != std::string::npos);
  CHECK(table.out.find(name) != std::string::npos);
  const auto json = root.run({"ps", "-a", "--format", "json"});
  CHECK(nlohmann::json::parse(json.out)["Names"] == name);
  const auto info = root.inspect(name);
  CHECK(info["State"]["Status"] == "exited");
  CHECK(info["State"]["ExitCode"] == 3);
  CHECK(info["Path"] == "sh");
  CHECK(info["ImageId"] == root.image_id());
  CHECK(root.run({"wait", name}).out == "3\n");
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("wait from another process, rm of a running container", "[root]") {
  TestRoot root;
  const auto name = unique_name("wait");
  Background run(root, {"run", "--name", name, "busybox", "sleep", "100"});
  REQUIRE(!wait_running(root, name).is_null());
  CHECK(root.run({"ps"}).out.find("Up ") != std::string::npos);
  const auto refused = root.run({"rm", name});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("cannot remove running container") != std::string::npos);
  Background waiter(root, {"wait", name});
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(run.wait() == 137);
  waiter.wait();
  CHECK(root.run({"ps", "-a", "-q"}).out.empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("wait prints the exit code once the container exits", "[root]") {
  TestRoot root;
  const auto name = unique_name("waitcode");
  Background run(root, {"run", "--name", name, "busybox", "sh", "-c", "sleep 1; exit 7"});
  REQUIRE(!wait_running(root, name).is_null());
  CHECK(root.run({"wait", name}).out == "7\n");
  CHECK(run.wait() == 7);
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("a run killed with SIGKILL is reconciled", "[root]") {
  TestRoot root;
  const auto name = unique_name("orphan");
  Background run(root, {"run", "--name", name, "busybox", "sleep", "100"});
  REQUIRE(!wait_running(root, name).is_null());
  ::kill(run.pid(), SIGKILL);
  run.wait();
  bool exited = false;
  for (int i = 0; i < 100 && !exited; ++i) {
    exited = root.run({"ps", "-a"}).out.find("Exited (137)") != std::string::npos;
  }
  CHECK(exited);
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("a --rm run killed with SIGKILL is removed by the next reconcile", "[root]") {
  TestRoot root;
  const auto name = unique_name("orphanrm");
  Background run(root, {"run", "--rm", "--name", name, "busybox", "sleep", "100"});
  REQUIRE(!wait_running(root, name).is_null());
  ::kill(run.pid(), SIGKILL);
  run.wait();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = root.run({"ps", "-a", "-q"}).out.empty();
  }
  CHECK(gone);
  CHECK(root.leaks().empty());
}
