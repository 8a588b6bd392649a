// `update` as Docker's: new limits reach a running container's cgroup at once and are kept in its
// record for the next start, a stopped container's are kept, the restart policy changes what the
// supervisor does at the next exit, and bad values change nothing.
#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;

namespace {

// A file of the container's cgroup (v1 hierarchy `controller`, or the v2 tree).
std::string cgroup_file(const TestRoot& root, const std::string& name,
                        const std::string& controller, const std::string& file) {
  const auto id = root.inspect(name)["Id"].get<std::string>();
  const std::filesystem::path v1 = "/sys/fs/cgroup/" + controller + "/gctool/" + id + "/" + file;
  const std::filesystem::path v2 = "/sys/fs/cgroup/gctool/" + id + "/" + file;
  std::ifstream in(std::filesystem::exists(v1) ? v1 : v2);
  std::string value;
  std::getline(in, value);
  return value;
}

}  // namespace

TEST_CASE("update changes a running container's cgroup and its record", "[root]") {
  TestRoot root;
  const auto name =
      gctool::test::run_detached(root, {"sleep", "100"}, {"-m", "64m", "--pids-limit", "20"});
  const auto update =
      root.run({"update", "-m", "128m", "--cpus", "0.5", "--pids-limit", "50", name});
  INFO(update.err);
  REQUIRE(update.exit_code == 0);
  CHECK(update.out == name + "\n");
  CHECK(cgroup_file(root, name, "memory", "memory.limit_in_bytes") == "134217728");
  CHECK(cgroup_file(root, name, "cpu", "cpu.cfs_quota_us") == "50000");
  CHECK(cgroup_file(root, name, "pids", "pids.max") == "50");
  auto host = root.inspect(name)["HostConfig"];
  CHECK(host["Memory"] == 134217728);
  CHECK(host["NanoCpus"] == 500000000);
  CHECK(host["PidsLimit"] == 50);

  // Bad values: one line, exit 125, nothing changed.
  for (const auto& flags : std::vector<std::vector<std::string>>{{"--cpus", "abc"},
                                                                 {"-m", "1k"},
                                                                 {"--pids-limit", "x"},
                                                                 {"--restart", "sometimes"},
                                                                 {}}) {
    std::vector<std::string> args = {"update"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(name);
    const auto bad = root.run(args);
    INFO(bad.err);
    CHECK(bad.exit_code == 125);
    CHECK(bad.out.empty());
    CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
  }
  CHECK(root.inspect(name)["HostConfig"]["Memory"] == 134217728);
  CHECK(cgroup_file(root, name, "memory", "memory.limit_in_bytes") == "134217728");
  const auto missing = root.run({"update", "-m", "64m", "nosuch-container"});
  CHECK(missing.exit_code == 1);

  // -1: no pids limit.
  REQUIRE(root.run({"update", "--pids-limit", "-1", name}).exit_code == 0);
  CHECK(root.inspect(name)["HostConfig"]["PidsLimit"].is_null());
  CHECK(std::stoll(cgroup_file(root, name, "pids", "pids.max")) >= 4194304);

  // Stopped: the record keeps the new limit, and the next start applies it.
  REQUIRE(root.run({"stop", "-t", "1", name}).exit_code == 0);
  REQUIRE(root.run({"update", "-m", "32m", name}).exit_code == 0);
  CHECK(root.inspect(name)["HostConfig"]["Memory"] == 32 * 1024 * 1024);
  REQUIRE(root.run({"start", name}).exit_code == 0);
  CHECK(cgroup_file(root, name, "memory", "memory.limit_in_bytes") == "33554432");
  gctool::test::remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("update --restart applies at the container's next exit", "[root]") {
  TestRoot root;
  const auto name = gctool::test::run_detached(root, {"sh", "-c", "sleep 1; exit 1"});
  const auto update = root.run({"update", "--restart", "on-failure:1", name});
  INFO(update.err);
  REQUIRE(update.exit_code == 0);
  CHECK(gctool::test::wait_until([&] { return root.inspect(name)["RestartCount"] == 1; }));
  CHECK(
      gctool::test::wait_until([&] { return root.inspect(name)["State"]["Status"] == "exited"; }));
  CHECK(root.inspect(name)["RestartCount"] == 1);

  const auto removed = gctool::test::run_detached(root, {"sleep", "100"}, {"--rm"});
  const auto refused = root.run({"update", "--restart", "always", removed});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err ==
        "gctool: Restart policy cannot be updated because AutoRemove is enabled for the "
        "container\n");
  gctool::test::remove(root, name);
  gctool::test::remove(root, removed);
  CHECK(root.leaks().empty());
}

TEST_CASE("update --memory-swap changes memory plus swap with the memory limit", "[root]") {
  TestRoot root;
  const auto name =
      gctool::test::run_detached(root, {"sleep", "100"}, {"-m", "64m", "--memory-swap", "128m"});
  const bool swap_accounting =
      std::filesystem::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") ||
      std::filesystem::exists("/sys/fs/cgroup/init.scope/memory.swap.max") ||
      std::filesystem::exists("/sys/fs/cgroup/system.slice/memory.swap.max");
  const auto update = root.run({"update", "--memory-swap", "256m", name});
  INFO(update.err);
  REQUIRE(update.exit_code == 0);
  CHECK(update.out == name + "\n");
  auto host = root.inspect(name)["HostConfig"];
  CHECK(host["Memory"] == 64 * 1024 * 1024);
  CHECK(host["MemorySwap"] == 256 * 1024 * 1024);
  if (swap_accounting) {
    CHECK(update.err.empty());
    if (std::filesystem::exists("/sys/fs/cgroup/memory")) {
      CHECK(cgroup_file(root, name, "memory", "memory.memsw.limit_in_bytes") == "268435456");
      CHECK(cgroup_file(root, name, "memory", "memory.limit_in_bytes") == "67108864");
    } else {
      CHECK(cgroup_file(root, name, "", "memory.swap.max") == "201326592");
    }
  } else {
    // Docker's warning on a host without swap accounting; the memory limit still applies.
    CHECK(update.err ==
          "gctool: WARNING: Your kernel does not support swap limit capabilities or the cgroup is "
          "not mounted. Memory limited without swap.\n");
  }

  // -m alone keeps the swap limit; both at once may lower memory+swap below the old memory.
  REQUIRE(root.run({"update", "-m", "96m", name}).exit_code == 0);
  host = root.inspect(name)["HostConfig"];
  CHECK(host["Memory"] == 96 * 1024 * 1024);
  CHECK(host["MemorySwap"] == 256 * 1024 * 1024);
  REQUIRE(root.run({"update", "-m", "16m", "--memory-swap", "32m", name}).exit_code == 0);
  if (swap_accounting && std::filesystem::exists("/sys/fs/cgroup/memory")) {
    CHECK(cgroup_file(root, name, "memory", "memory.memsw.limit_in_bytes") == "33554432");
    CHECK(cgroup_file(root, name, "memory", "memory.limit_in_bytes") == "16777216");
  }
  REQUIRE(root.run({"update", "--memory-swap", "-1", name}).exit_code == 0);
  CHECK(root.inspect(name)["HostConfig"]["MemorySwap"] == -1);

  // Below the memory limit: refused as Docker's daemon refuses it, nothing changed.
  const auto below = root.run({"update", "--memory-swap", "8m", name});
  CHECK(below.exit_code == 1);
  CHECK(below.err ==
        "gctool: minimum memoryswap limit should be larger than memory limit, see usage\n");
  CHECK(root.inspect(name)["HostConfig"]["MemorySwap"] == -1);
  const auto bad = root.run({"update", "--memory-swap", "lots", name});
  CHECK(bad.exit_code == 125);
  CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);

  // A container without a memory limit cannot take a swap limit alone.
  const auto unlimited = gctool::test::run_detached(root, {"sleep", "100"});
  const auto alone = root.run({"update", "--memory-swap", "64m", unlimited});
  CHECK(alone.exit_code == 1);
  CHECK(alone.err ==
        "gctool: you should always set the memory limit when using the memoryswap limit, see "
        "usage\n");
  gctool::test::remove(root, name);
  gctool::test::remove(root, unlimited);
  CHECK(root.leaks().empty());
}
