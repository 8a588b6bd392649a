// `stats` as Docker's: the table's columns, figures taken from the container's cgroup and network
// namespace, --format templates, -a, the live refresh, and one line for bad input.
#include <regex>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;

TEST_CASE("stats --no-stream shows Docker's columns from the container's cgroup", "[root]") {
  TestRoot root;
  const auto busy = gctool::test::run_detached(root, {"sh", "-c", "while true; do :; done"},
                                               {"-m", "64m", "--pids-limit", "20"});
  const auto idle = gctool::test::run_detached(root, {"sleep", "100"});
  const auto id = root.inspect(busy)["Id"].get<std::string>();

  const auto table = root.run({"stats", "--no-stream", busy});
  INFO(table.err);
  REQUIRE(table.exit_code == 0);
  std::istringstream lines(table.out);
  std::string header, line;
  std::getline(lines, header);
  std::getline(lines, line);
  // Columns as wide as their widest cell plus three spaces, as Docker's tabwriter.
  CHECK(std::regex_match(header,
                         std::regex("CONTAINER ID   NAME" + std::string(busy.size() - 1, ' ') +
                                    "CPU %     MEM USAGE / LIMIT   MEM %     NET I/O +"
                                    "BLOCK I/O   PIDS")));
  INFO(line);
  // id, name, CPU %, usage / 64MiB, MEM %, no traffic without a network, block I/O, pids.
  const std::regex row(
      id.substr(0, 12) + " +" + busy +
      R"( +([0-9.]+)% +[0-9.]+[KMG]?i?B / 64MiB +[0-9.]+% +0B / 0B +[0-9.]+[kMG]?B / [0-9.]+[kMG]?B +1)");
  std::smatch match;
  REQUIRE(std::regex_match(line, match, row));
  // A shell spinning keeps most of a CPU busy, even on a loaded machine.
  CHECK(std::stod(match[1]) > 20.0);
  CHECK_FALSE(std::getline(lines, line));

  const auto custom = root.run({"stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", idle});
  CHECK(custom.out == idle + " 1\n");
  const auto both = root.run({"stats", "--no-stream", "--no-trunc", "--format",
                              "table {{.ID}}\t{{.MemPerc}}", busy, idle});
  CHECK(both.out.starts_with("CONTAINER ID"));
  CHECK(both.out.find(id + "   ") != std::string::npos);
  CHECK(std::count(both.out.begin(), both.out.end(), '\n') == 3);

  // Without names: the running containers; -a adds the stopped ones, with zeros.
  REQUIRE(root.run({"stop", "-t", "1", idle}).exit_code == 0);
  const auto running = root.run({"stats", "--no-stream", "--format", "{{.Name}}"});
  CHECK(running.out == busy + "\n");
  const auto all = root.run({"stats", "--no-stream", "-a", "--format", "{{.Name}} {{.MemUsage}}"});
  CHECK(all.out.find(idle + " 0B / 0B\n") != std::string::npos);
  CHECK(all.out.find(busy + " ") != std::string::npos);

  // Live: a new table every second, each after clearing the screen, until interrupted.
  const auto live = gctool::test::run_program(
      {"timeout", "-s", "INT", "2.6", GCTOOL_BINARY, "--root", root.root(), "stats", busy});
  std::size_t clears = 0;
  for (auto at = live.out.find("\033[2J\033[H"); at != std::string::npos;
       at = live.out.find("\033[2J\033[H", at + 1)) {
    ++clears;
  }
  CHECK(clears == 2);

  const auto bad = root.run({"stats", "--no-stream", "--format", "{{.Name", busy});
  CHECK(bad.exit_code == 125);
  CHECK(bad.out.empty());
  CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
  const auto missing = root.run({"stats", "--no-stream", "nosuch-container"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.empty());
  CHECK(missing.err.find("nosuch-container") != std::string::npos);

  gctool::test::remove(root, busy);
  gctool::test::remove(root, idle);
  CHECK(root.leaks().empty());
}
