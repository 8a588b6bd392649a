// What a command reads agrees with the kernel, even right after another command (or the
// container itself) changed it: kill returns once the container is down and recorded so, a
// start clears the last run's exit code, and a container whose supervisor has not yet recorded an
// exit (or is about to restart it) is not removed without -f.
#include <signal.h>

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "container_support.hpp"
#include "gctool/container/state.hpp"
#include "gctool/core/proc.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

bool is_exited(const TestRoot& root, const std::string& name) {
  const auto info = root.inspect(name);
  return !info.is_null() && info["State"]["Status"] == "exited";
}

// Resumes a stopped process at scope end, whatever the test did meanwhile.
class Stopped {
 public:
  explicit Stopped(pid_t pid) : pid_(pid) { REQUIRE(::kill(pid_, SIGSTOP) == 0); }
  ~Stopped() { resume(); }
  void resume() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      pid_ = 0;
    }
  }

 private:
  pid_t pid_;
};

}  // namespace

TEST_CASE("kill then start or inspect at once never finds the container still running",
          "[root][races]") {
  TestRoot root;
  const auto name = run_detached(root, {"sleep", "1000"});
  REQUIRE(wait_running(root, name) != nullptr);
  // On the old code one round in eight failed; bounded in time for a slow machine.
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  int rounds = 0;
  for (; rounds < 24 && std::chrono::steady_clock::now() < deadline; ++rounds) {
    INFO("round " << rounds);
    const auto kill = root.run({"kill", name});
    INFO(kill.err);
    REQUIRE(kill.exit_code == 0);
    const auto info = root.inspect(name);
    REQUIRE(!info.is_null());
    CHECK(info["State"]["Running"] == false);
    CHECK(info["State"]["ExitCode"] == 137);
    const container::ProcessId init{info["State"]["Pid"].get<pid_t>(),
                                    info["State"]["PidStartTime"].get<std::uint64_t>()};
    CHECK_FALSE(process_matches(init.pid, init.start_time));
    const auto start = root.run({"start", name});
    INFO(start.err);
    REQUIRE(start.exit_code == 0);
    const auto started = root.inspect(name);
    CHECK(started["State"]["Running"] == true);
    CHECK(started["State"]["ExitCode"] == 0);
  }
  CHECK(rounds >= 8);
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("a start or restart clears the exit code of the last run", "[root][races]") {
  TestRoot root;
  // Exits with 3 the first time, runs on the second.
  const auto name =
      run_detached(root, {"sh", "-c", "test -e /ran && exec sleep 1000; touch /ran; exit 3"});
  REQUIRE(wait_until([&] { return is_exited(root, name); }));
  CHECK(root.inspect(name)["State"]["ExitCode"] == 3);
  REQUIRE(root.run({"start", name}).exit_code == 0);
  auto info = root.inspect(name);
  CHECK(info["State"]["Running"] == true);
  CHECK(info["State"]["ExitCode"] == 0);
  REQUIRE(root.run({"kill", name}).exit_code == 0);
  CHECK(root.inspect(name)["State"]["ExitCode"] == 137);
  const auto restart = root.run({"restart", "-t", "1", name});
  INFO(restart.err);
  REQUIRE(restart.exit_code == 0);
  info = root.inspect(name);
  CHECK(info["State"]["Running"] == true);
  CHECK(info["State"]["ExitCode"] == 0);
  CHECK(info["State"]["Error"] == "");
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("rm without -f refuses a container whose exit is not recorded yet", "[root][races]") {
  TestRoot root;
  const auto name = run_detached(root, {"sleep", "1000"}, {"--restart", "always"});
  const auto info = wait_running(root, name);
  REQUIRE(!info.is_null());
  const container::ProcessId owner{info["Gctool"]["Owner"]["Pid"].get<pid_t>(),
                                   info["Gctool"]["Owner"]["StartTime"].get<std::uint64_t>()};
  const pid_t init = info["State"]["Pid"].get<pid_t>();
  {
    // The supervisor cannot record the exit (nor reap pid 1) while stopped: the record says
    // running, the kernel says pid 1 has exited and its supervisor will start it again.
    Stopped frozen(owner.pid);
    REQUIRE(::kill(init, SIGKILL) == 0);
    REQUIRE(wait_until([&] { return read_proc_stat(init).value_or(ProcStat{}).state == 'Z'; }));
    const auto rm = root.run({"rm", name});
    CHECK(rm.exit_code != 0);
    CHECK(rm.err.find("use -f") != std::string::npos);
    CHECK(root.inspect(name) != nullptr);
  }
  // Recorded and restarted by its supervisor; still not removable without -f.
  CHECK(wait_until([&] { return root.inspect(name)["RestartCount"] == 1; }));
  CHECK(root.run({"rm", name}).exit_code != 0);
  remove(root, name);
  CHECK(wait_until([&] { return !process_matches(owner.pid, owner.start_time); }, 10s));
  CHECK(root.leaks().empty());
}

TEST_CASE("rm without -f never removes a container in its restart loop", "[root][races]") {
  TestRoot root;
  // Exits at once, again and again: most rm attempts land in a back-off, some at an exit.
  const auto name = run_detached(root, {"sh", "-c", "exit 3"}, {"--restart", "on-failure:30"});
  const auto deadline = std::chrono::steady_clock::now() + 12s;
  int attempts = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto rm = root.run({"rm", name});
    INFO("attempt " << attempts << ": " << rm.err);
    REQUIRE(rm.exit_code != 0);
    ++attempts;
  }
  CHECK(attempts > 20);
  CHECK(root.inspect(name) != nullptr);
  remove(root, name);
  CHECK(root.leaks().empty());
}
