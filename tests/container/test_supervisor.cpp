// Detached containers: `run -d` under a supervisor, logs, stop, kill, restart policies, --rm, and
// what happens when the supervisor itself is killed.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "container_support.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/proc.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

bool exited(const TestRoot& root, const std::string& name) {
  const auto info = root.inspect(name);
  return !info.is_null() && info["State"]["Status"] == "exited";
}

}  // namespace

TEST_CASE("restart policies parse as Docker's", "[supervisor]") {
  using container::RestartPolicy;
  CHECK(container::parse_restart_policy("no").mode == RestartPolicy::Mode::no);
  CHECK(container::parse_restart_policy("always").mode == RestartPolicy::Mode::always);
  CHECK(container::parse_restart_policy("unless-stopped").mode ==
        RestartPolicy::Mode::unless_stopped);
  const auto on_failure = container::parse_restart_policy("on-failure:2");
  CHECK(on_failure.mode == RestartPolicy::Mode::on_failure);
  CHECK(on_failure.max_retries == 2);
  CHECK_THROWS_WITH(container::parse_restart_policy("sometimes"),
                    "invalid restart policy \"sometimes\"");
  CHECK_THROWS(container::parse_restart_policy("always:3"));
  CHECK_THROWS(container::parse_restart_policy("on-failure:x"));

  CHECK(container::should_restart(on_failure, 1, 1, false));
  CHECK_FALSE(container::should_restart(on_failure, 1, 2, false));
  CHECK_FALSE(container::should_restart(on_failure, 0, 0, false));
  CHECK_FALSE(container::should_restart({RestartPolicy::Mode::always, 0}, 0, 5, true));
  CHECK(container::restart_delay(0) == 100ms);
  CHECK(container::restart_delay(3) == 800ms);
  CHECK(container::restart_delay(30) == 10s);
}

TEST_CASE("run -d logs stdout and stderr on their own streams", "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(root, {"sh", "-c", "echo out; echo err >&2; exit 4"});
  CHECK(trimmed(root.run({"wait", name}).out) == "4");
  const auto logs = root.run({"logs", name});
  CHECK(logs.out == "out\n");
  CHECK(logs.err == "err\n");
  CHECK(status_of(root, name).starts_with("Exited (4)"));
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("logs -f follows a detached container until it exits", "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(
      root, {"sh", "-c", "for i in 1 2 3 4 5; do echo $i; done; sleep 1; echo late; sleep 0.5"});
  const auto started = std::chrono::steady_clock::now();
  const auto follow = root.run({"logs", "-f", name});
  CHECK(follow.out == "1\n2\n3\n4\n5\nlate\n");
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK(exited(root, name));
  CHECK(root.run({"logs", "--tail", "2", name}).out == "5\nlate\n");
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("a 1 MiB line without a newline survives the log", "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(root, {"sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x"});
  REQUIRE(wait_until([&] { return exited(root, name); }));
  const auto logs = root.run({"logs", name});
  CHECK(logs.out.size() == 1048576);
  CHECK(logs.out.find_first_not_of('x') == std::string::npos);
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("stop kills a container that ignores SIGTERM after the timeout", "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(root, {"sh", "-c", "trap '' TERM; sleep 100"});
  // Let the shell install its trap first.
  std::this_thread::sleep_for(300ms);
  CHECK(status_of(root, name).starts_with("Up"));
  const auto started = std::chrono::steady_clock::now();
  const auto stop = root.run({"stop", "-t", "1", name});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(stop.err);
  CHECK(stop.exit_code == 0);
  CHECK(trimmed(stop.out) == name);
  CHECK(took >= 900ms);
  CHECK(took < 4s);
  CHECK(status_of(root, name).starts_with("Exited (137)"));
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("stop lets a container that handles SIGTERM exit with its own code",
          "[root][supervisor]") {
  TestRoot root;
  const auto name =
      run_detached(root, {"sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.1; done"});
  std::this_thread::sleep_for(300ms);
  const auto stop = root.run({"stop", name});
  INFO(stop.err);
  CHECK(stop.exit_code == 0);
  CHECK(status_of(root, name).starts_with("Exited (3)"));
  CHECK(root.inspect(name)["State"]["ExitCode"] == 3);
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("kill signals the container through its pidfd", "[root][supervisor]") {
  TestRoot root;
  const auto name =
      run_detached(root, {"sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done"});
  std::this_thread::sleep_for(300ms);
  const auto kill = root.run({"kill", "-s", "USR1", name});
  INFO(kill.err);
  CHECK(kill.exit_code == 0);
  CHECK(trimmed(root.run({"wait", name}).out) == "7");
  CHECK(root.run({"kill", name}).exit_code != 0);
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("flag --rm -d leaves nothing once the container exits", "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(root, {"sh", "-c", "sleep 0.3"}, {"--rm"});
  CHECK(wait_until([&] { return root.inspect(name).is_null(); }));
  CHECK(root.leaks().empty());
}

TEST_CASE("a failure before the command starts is reported by run -d", "[root][supervisor]") {
  TestRoot root;
  const auto result = root.run({"run", "-d", "--network", "none", "busybox", "/no/such/command"});
  CHECK(result.exit_code == 127);
  CHECK(result.out.empty());
  CHECK(result.err.find("/no/such/command") != std::string::npos);
  CHECK(root.leaks().empty());
}

TEST_CASE("flag --restart on-failure:2 restarts twice, then stays exited", "[root][supervisor]") {
  TestRoot root;
  const auto name =
      run_detached(root, {"sh", "-c", "echo run; exit 1"}, {"--restart", "on-failure:2"});
  // Back-off: 100ms then 200ms; the supervisor is gone once it has given up.
  CHECK(wait_until([&] {
    const auto info = root.inspect(name);
    return !info.is_null() && info["State"]["Status"] == "exited" &&
           !process_matches(info["Gctool"]["Owner"]["Pid"].get<pid_t>(),
                            info["Gctool"]["Owner"]["StartTime"].get<std::uint64_t>());
  }));
  const auto info = root.inspect(name);
  CHECK(info["RestartCount"] == 2);
  CHECK(info["State"]["ExitCode"] == 1);
  CHECK(root.run({"logs", name}).out == "run\nrun\nrun\n");
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("after kill -9 of the supervisor ps tells the truth and rm -f cleans up",
          "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(root, {"sleep", "100"});
  const auto info = root.inspect(name);
  const pid_t supervisor = info["Gctool"]["Owner"]["Pid"].get<pid_t>();
  const pid_t pid = info["State"]["Pid"].get<pid_t>();
  const auto start_time = info["State"]["PidStartTime"].get<std::uint64_t>();
  REQUIRE(supervisor > 0);
  REQUIRE(::kill(supervisor, SIGKILL) == 0);
  CHECK(wait_until(
      [&] {
        return !process_matches(supervisor, 0) &&
               !std::filesystem::exists("/proc/" + std::to_string(supervisor));
      },
      5s));
  // The container may die with its supervisor (the init's parent-death signal) or live on; ps
  // must say which.
  const bool running = !wait_until([&] { return !process_matches(pid, start_time); }, 1s);
  CHECK(status_of(root, name).starts_with(running ? "Up" : "Exited (137)"));
  const auto rm = root.run({"rm", "-f", name});
  INFO(rm.err);
  CHECK(rm.exit_code == 0);
  CHECK_FALSE(process_matches(pid, start_time));
  CHECK(root.leaks().empty());
}

TEST_CASE("stop works after the supervisor was killed", "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(root, {"sleep", "100"});
  const auto info = root.inspect(name);
  REQUIRE(::kill(info["Gctool"]["Owner"]["Pid"].get<pid_t>(), SIGKILL) == 0);
  const auto stop = root.run({"stop", "-t", "1", name});
  INFO(stop.err);
  CHECK(stop.exit_code == 0);
  CHECK(status_of(root, name).starts_with("Exited (137)"));
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("start runs an exited container again with its filesystem", "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(
      root, {"sh", "-c", "if [ -e /mark ]; then echo again; else touch /mark; echo first; fi"});
  CHECK(trimmed(root.run({"wait", name}).out) == "0");
  const auto id = root.inspect(name)["Id"];
  const auto start = root.run({"start", name});
  INFO(start.err);
  CHECK(start.exit_code == 0);
  CHECK(trimmed(start.out) == name);
  CHECK(trimmed(root.run({"wait", name}).out) == "0");
  CHECK(root.inspect(name)["Id"] == id);
  CHECK(root.run({"logs", name}).out == "first\nagain\n");
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("restart stops a running container and starts it again", "[root][supervisor]") {
  TestRoot root;
  const auto name = run_detached(root, {"sh", "-c", "echo up; sleep 100"});
  std::this_thread::sleep_for(200ms);
  const auto before = root.inspect(name)["State"]["Pid"];
  const auto restart = root.run({"restart", "-t", "1", name});
  INFO(restart.err);
  CHECK(restart.exit_code == 0);
  CHECK(status_of(root, name).starts_with("Up"));
  CHECK(root.inspect(name)["State"]["Pid"] != before);
  remove(root, name);
  CHECK(root.leaks().empty());
}
