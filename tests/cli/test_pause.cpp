// `pause` and `unpause` as Docker's: the container's processes stop and resume, ps and inspect
// show it paused, stop and rm -f still end it, and wrong states are one line with exit 1.
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

// The counter the container's loop writes, read through its root from the host.
std::string counter(const TestRoot& root, const std::string& name) {
  const auto pid = root.inspect(name)["State"]["Pid"].get<int>();
  std::ifstream in("/proc/" + std::to_string(pid) + "/root/count");
  std::string value;
  std::getline(in, value);
  return value;
}

}  // namespace

TEST_CASE("pause freezes a container's processes and unpause resumes them", "[root]") {
  TestRoot root;
  const auto name = gctool::test::run_detached(
      root, {"sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /count; sleep 0.05; done"});
  REQUIRE(gctool::test::wait_until([&] { return !counter(root, name).empty(); }));

  const auto pause = root.run({"pause", name});
  INFO(pause.err);
  REQUIRE(pause.exit_code == 0);
  CHECK(pause.out == name + "\n");
  const auto info = root.inspect(name);
  CHECK(info["State"]["Status"] == "paused");
  CHECK(info["State"]["Paused"] == true);
  CHECK(info["State"]["Running"] == true);
  CHECK(root.run({"ps", "--format", "{{.Status}}"}).out.find("(Paused)") != std::string::npos);
  CHECK(root.run({"ps", "-q", "--filter", "status=paused"}).out.size() == 13);
  CHECK(root.run({"ps", "-q", "--filter", "status=running"}).out.empty());
  // Frozen: the loop writes nothing more.
  const auto frozen_at = counter(root, name);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(counter(root, name) == frozen_at);

  const auto again = root.run({"pause", name});
  CHECK(again.exit_code == 1);
  CHECK(again.err == "gctool: container " + name + " is already paused\n");
  const auto exec = root.run({"exec", name, "true"});
  CHECK(exec.exit_code == 1);
  CHECK(exec.err ==
        "gctool: container " + name + " is paused, unpause the container before exec\n");

  const auto unpause = root.run({"unpause", name});
  INFO(unpause.err);
  REQUIRE(unpause.exit_code == 0);
  CHECK(unpause.out == name + "\n");
  CHECK(root.inspect(name)["State"]["Status"] == "running");
  CHECK(root.inspect(name)["State"]["Paused"] == false);
  CHECK(gctool::test::wait_until([&] { return counter(root, name) != frozen_at; }));
  const auto not_paused = root.run({"unpause", name});
  CHECK(not_paused.exit_code == 1);
  CHECK(not_paused.err == "gctool: container " + name + " is not paused\n");

  // A paused container still stops (its signal is acted on once thawed) and is removed.
  REQUIRE(root.run({"pause", name}).exit_code == 0);
  const auto stop = root.run({"stop", "-t", "1", name});
  INFO(stop.err);
  CHECK(stop.exit_code == 0);
  CHECK(root.inspect(name)["State"]["Status"] == "exited");
  CHECK(root.inspect(name)["State"]["Paused"] == false);
  const auto exited = root.run({"pause", name});
  CHECK(exited.exit_code == 1);
  CHECK(exited.err == "gctool: container " + name + " is not running\n");
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("rm -f removes a paused container with its freezer cgroup", "[root]") {
  TestRoot root;
  const auto name = gctool::test::run_detached(root, {"sleep", "300"});
  REQUIRE(root.run({"pause", name}).exit_code == 0);
  const auto rm = root.run({"rm", "-f", name});
  INFO(rm.err);
  CHECK(rm.exit_code == 0);
  CHECK(root.run({"ps", "-aq"}).out.empty());
  CHECK(root.leaks().empty());
  const auto nosuch = root.run({"pause", "nosuch"});
  CHECK(nosuch.exit_code == 1);
  CHECK(nosuch.err == "gctool: no such container: nosuch\n");
}
