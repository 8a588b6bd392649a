// Crash residue (issue 14, item 12): gctool killed with SIGKILL at a named step of a multi-step
// change (GCTOOL_TEST_CRASH_AT, docs/crash-points.md), then the next command must complete or
// roll back what was cut short: no bridge, address, rule, pool or file is left, and the subnet
// or name can be used again. Each test runs in the network namespace of its TestRoot.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "container_support.hpp"
#include "gctool/net/firewall.hpp"
#include "net_support.hpp"

using namespace gctool;
using namespace gctool::test;

namespace {

namespace fsys = std::filesystem;

constexpr int kKilled = 128 + SIGKILL;

// `gctool --root ROOT args...` that SIGKILLs itself at step.
RunResult run_crashing(const TestRoot& root, const std::string& step,
                       std::vector<std::string> args) {
  args.insert(args.begin(), {GCTOOL_BINARY, "--root", root.root()});
  return run_program(args, "", {"GCTOOL_TEST_CRASH_AT=" + step});
}

std::string random_subnet() {
  static std::mt19937 rng{std::random_device{}()};
  return fmt::format("10.{}.{}.0/24", 16 + rng() % 200, rng() % 250);
}

// What networks/ holds besides its lock and the (empty) endpoints directory: definitions,
// intents, temporary files.
std::set<std::string> network_state(const TestRoot& root) {
  const fsys::path dir = fsys::path(root.root()) / "networks";
  auto names = directory_entries(dir);
  names.erase(".lock");
  // Directories of per-container and per-resolver entries stay, empty, as the lock file does.
  for (const char* kept : {"endpoints", "resolvers"}) {
    if (directory_entries(dir / kept).empty()) {
      names.erase(kept);
    }
  }
  return names;
}

void require_ok(const RunResult& result) {
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
}

}  // namespace

TEST_CASE("a network create killed with its bridge up is rolled back by the next command",
          "[root]") {
  TestRoot root;
  const std::string subnet = random_subnet();
  const std::string first = unique_name("gn");
  const auto killed =
      run_crashing(root, "network-create:bridge", {"network", "create", "--subnet", subnet, first});
  REQUIRE(killed.exit_code == kKilled);
  // What the killed create had made: a bridge with the subnet's address and route.
  REQUIRE(gctool_links().size() == 1);

  // The same subnet (and name) again: refused as "overlaps host route" while the residue stays.
  const auto again = root.run({"network", "create", "--subnet", subnet, first});
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  const auto links = gctool_links();
  CHECK(links.size() == 1);
  require_ok(root.run({"network", "rm", first}));
  CHECK(gctool_links().empty());
  CHECK_FALSE(net::firewall_table_exists());
  INFO(fmt::format("{}", fmt::join(network_state(root), " ")));
  CHECK(network_state(root).empty());
  CHECK(directory_entries(fsys::path(root.root()) / "ipam").empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("a network rm killed after deleting the bridge is finished by the next command",
          "[root]") {
  TestRoot root;
  const std::string subnet = random_subnet();
  const std::string name = unique_name("gn");
  require_ok(root.run({"network", "create", "--subnet", subnet, name}));
  // A container ran on it, so the network has a pool.
  require_ok(root.run({"run", "--rm", "--network", name, "busybox", "true"}));
  const auto killed = run_crashing(root, "network-rm:link", {"network", "rm", name});
  REQUIRE(killed.exit_code == kKilled);
  REQUIRE(gctool_links().empty());

  require_ok(root.run({"ps", "-a"}));
  const auto listed = root.run({"network", "ls"});
  CHECK(listed.out.find(name) == std::string::npos);
  CHECK_FALSE(net::firewall_table_exists());
  INFO(fmt::format("{}", fmt::join(network_state(root), " ")));
  CHECK(network_state(root).empty());
  CHECK(directory_entries(fsys::path(root.root()) / "ipam").empty());
  // The name and subnet are free again.
  require_ok(root.run({"network", "create", "--subnet", subnet, name}));
  require_ok(root.run({"network", "rm", name}));
  CHECK(gctool_links().empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("a container directory that a killed rm -f left is removed by the next ps", "[root]") {
  TestRoot root;
  const std::string name = run_detached(root, {"sleep", "1000"});
  const std::string id = root.inspect(name)["Id"].get<std::string>();
  const fsys::path dir = fsys::path(root.root()) / "containers" / id;
  REQUIRE(fsys::exists(dir / "container.log"));
  require_ok(root.run({"stop", "-t", "0", name}));

  SECTION("killed after the directory was renamed away") {
    // Only this gctool has the step: before, rm deleted the directory in place, and a kill in
    // the middle left it without its record (the next section).
    const auto killed = run_crashing(root, "container-rm:renamed", {"rm", "-f", name});
    REQUIRE(killed.exit_code == kKilled);
  }
  SECTION("killed after deleting the record, as an in-place deletion left it") {
    fsys::remove(dir / "config.json");
  }
  require_ok(root.run({"ps", "-a"}));
  CHECK(directory_entries(fsys::path(root.root()) / "containers").empty());
  CHECK(root.inspect(name).is_null());
  CHECK(root.leaks().empty());
}

TEST_CASE("a volume rm killed midway is finished by the next volume ls", "[root]") {
  TestRoot root;
  const std::string name = unique_name("vol");
  require_ok(root.run({"volume", "create", name}));
  const auto killed = run_crashing(root, "volume-rm:renamed", {"volume", "rm", name});
  REQUIRE(killed.exit_code == kKilled);
  const auto listed = root.run({"volume", "ls", "-q"});
  require_ok(listed);
  CHECK(listed.out.empty());
  CHECK(directory_entries(fsys::path(root.root()) / "volumes").empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("a commit killed after storing its layer leaves no layer once images are listed",
          "[root]") {
  TestRoot root;
  const fsys::path layers = fsys::path(root.root()) / "layers";
  const auto before = directory_entries(layers);
  const std::string name = unique_name("c");
  require_ok(root.run({"run", "--name", name, "busybox", "sh", "-c", "echo new > /new-file"}));
  const auto killed = run_crashing(root, "image-commit:layer", {"commit", name, "crashed:v1"});
  REQUIRE(killed.exit_code == kKilled);
  REQUIRE(directory_entries(layers) != before);

  const auto listed = root.run({"image", "ls"});
  require_ok(listed);
  CHECK(listed.out.find("crashed") == std::string::npos);
  CHECK(directory_entries(layers) == before);
  // A commit after it works and stores the layer again.
  require_ok(root.run({"commit", name, "crashed:v2"}));
  require_ok(root.run({"image", "rm", "crashed:v2"}));
  CHECK(directory_entries(layers) == before);
  remove(root, name);
  CHECK(root.leaks().empty());
}
