// A foreground `run` that needs an owner beyond the CLI, as Docker's daemon is one: with
// --restart the supervisor restarts the container after the first run (which the terminal sees
// and whose code `run` exits with), a health check runs and shows in inspect, ps and events,
// --sig-proxy=false leaves the container running when the CLI is killed; detach keys are input
// without a tty; exec and OOM kills are events as Docker's.
#include <signal.h>

#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::Background;
using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

// `events` between the test's start and now, with a template and filters.
std::string events(const TestRoot& root, const std::string& since, const std::string& format,
                   std::vector<std::string> filters) {
  const auto until = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count() +
                                    1);
  std::vector<std::string> args = {"events", "--since", since, "--until", until};
  if (!format.empty()) {
    args.insert(args.end(), {"--format", format});
  }
  for (const auto& filter : filters) {
    args.insert(args.end(), {"--filter", filter});
  }
  const auto result = root.run(args);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  return result.out;
}

std::string unix_now() {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() -
                        1);
}

std::string ps_status(const TestRoot& root, const std::string& name) {
  return root.run({"ps", "--filter", "name=" + name, "--format", "{{.Status}}"}).out;
}

std::string health_status(const TestRoot& root, const std::string& name) {
  const auto info = root.inspect(name);
  if (info.is_null() || !info["State"].contains("Health")) {
    return "";
  }
  return info["State"]["Health"]["Status"].get<std::string>();
}

}  // namespace

TEST_CASE("run --restart without -d: one run on the terminal, the restarts in the background",
          "[root]") {
  TestRoot root;
  const auto name = unique_name("fgr");
  const auto run = root.run({"run", "--name", name, "--network", "none", "--restart",
                             "on-failure:2", "busybox", "sh", "-c", "echo x; echo e >&2; exit 3"});
  INFO(run.err);
  CHECK(run.exit_code == 3);
  CHECK(run.out == "x\n");
  CHECK(run.err == "e\n");
  // As Docker: afterwards the supervisor has restarted it twice, and the log has every run.
  CHECK(gctool::test::wait_until([&] {
    const auto info = root.inspect(name);
    return info["RestartCount"] == 2 && info["State"]["Status"] == "exited";
  }));
  CHECK(root.inspect(name)["State"]["ExitCode"] == 3);
  CHECK(root.run({"logs", name}).out == "x\nx\nx\n");

  // A run that succeeds is not restarted by on-failure; `always` is, until stopped.
  const auto ok = unique_name("fgr");
  CHECK(root.run({"run", "--name", ok, "--network", "none", "--restart", "on-failure", "busybox",
                  "true"})
            .exit_code == 0);
  const auto always = unique_name("fgr");
  const auto again = root.run({"run", "--name", always, "--network", "none", "--restart", "always",
                               "busybox", "sh", "-c", "echo up; exit 0"});
  CHECK(again.exit_code == 0);
  CHECK(again.out == "up\n");
  CHECK(gctool::test::wait_until([&] { return root.inspect(always)["RestartCount"] >= 2; }));
  CHECK(root.run({"stop", always}).exit_code == 0);
  CHECK(root.inspect(ok)["RestartCount"] == 0);
  // As Docker, --rm still conflicts with a policy: nothing is created.
  gctool::test::check_refused(root, {"--restart", "always"});
  CHECK(root.run({"rm", "-f", name, ok, always}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run -i without a tty: stdin to the end, detach keys are input as in Docker", "[root]") {
  TestRoot root;
  const std::string input = "one\x10\x11two\n";
  // In this process and under the supervisor (--restart): the keys reach cat, the end of the
  // input ends it.
  for (const auto& flags :
       {std::vector<std::string>{}, std::vector<std::string>{"--restart", "on-failure:1"}}) {
    const auto name = unique_name("fgi");
    std::vector<std::string> args = {"run", "-i", "--name", name, "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"busybox", "cat"});
    const auto run = root.run(args, input);
    INFO(run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out == input);
    CHECK(root.inspect(name)["State"]["Status"] == "exited");
    CHECK(root.run({"rm", name}).exit_code == 0);
  }
  // --detach-keys is still checked.
  const auto bad =
      root.run({"run", "-i", "--detach-keys", "ctrl-1", "--network", "none", "busybox", "true"});
  CHECK(bad.exit_code == 125);
  CHECK(bad.err == "gctool: Invalid detach keys (ctrl-1) provided\n");
  CHECK(root.leaks().empty());
}

TEST_CASE("a health check runs for a foreground container: inspect, ps and events", "[root]") {
  TestRoot root;
  const auto since = unix_now();
  const auto name = unique_name("fgh");
  Background run(root, {"run", "--name", name, "--network", "none", "--health-cmd", "echo fine",
                        "--health-interval", "200ms", "busybox", "sleep", "1000"});
  CHECK(gctool::test::wait_until([&] { return health_status(root, name) == "healthy"; }));
  CHECK_THAT(ps_status(root, name), Catch::EndsWith(" (healthy)\n"));
  CHECK(root.inspect(name)["State"]["Health"]["Log"].back()["Output"] == "fine\n");
  // Each change of status is one event, as Docker's (read while it runs: checks that fail
  // because the container is being killed could still count).
  CHECK(events(root, since, "{{.Action}}", {"container=" + name, "event=health_status"}) ==
        "health_status: healthy\n");
  // The foreground run ends with its container.
  CHECK(root.run({"kill", name}).exit_code == 0);
  CHECK(run.wait() == 137);

  // A failing check: unhealthy.
  const auto sick = gctool::test::run_detached(
      root, {"sleep", "1000"},
      {"--health-cmd", "exit 1", "--health-interval", "100ms", "--health-retries", "1"});
  CHECK(gctool::test::wait_until([&] { return health_status(root, sick) == "unhealthy"; }));
  CHECK(events(root, since, "{{.Action}} {{.Actor.Attributes.name}}",
               {"container=" + sick, "event=health_status"}) ==
        "health_status: unhealthy " + sick + "\n");
  CHECK(root.run({"rm", "-f", name, sick}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run --health-start-interval: checks while starting come at that interval", "[root]") {
  TestRoot root;
  // Docker 25+: within the start period, until the first success, the start interval applies;
  // the interval (1h here) only after that.
  const auto fast = gctool::test::run_detached(
      root, {"sleep", "1000"},
      {"--health-cmd", "test -e /tmp/ok", "--health-interval", "1h", "--health-start-period", "1h",
       "--health-start-interval", "100ms"});
  CHECK(root.inspect(fast)["Config"]["Healthcheck"]["StartInterval"] == 100'000'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(health_status(root, fast) == "starting");
  CHECK(root.run({"exec", fast, "touch", "/tmp/ok"}).exit_code == 0);
  CHECK(gctool::test::wait_until([&] { return health_status(root, fast) == "healthy"; }));
  const auto log = root.inspect(fast)["State"]["Health"]["Log"];
  CHECK(log.size() >= 3);  // failures within the start period, kept but not counted
  CHECK(root.inspect(fast)["State"]["Health"]["FailingStreak"] == 0);

  for (const auto& bad : {std::vector<std::string>{"--health-start-interval", "soon"},
                          {"--health-start-interval", "-1s"},
                          {"--no-healthcheck", "--health-start-interval", "1s"}}) {
    gctool::test::check_refused(root, bad);
  }
  CHECK(root.run({"rm", "-f", fast}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run --sig-proxy=false: the container outlives a CLI killed by a signal", "[root]") {
  TestRoot root;
  const auto name = unique_name("fgs");
  Background run(root, {"run", "--sig-proxy=false", "--name", name, "--network", "none", "busybox",
                        "sleep", "1000"});
  REQUIRE(!gctool::test::wait_running(root, name).is_null());
  // The CLI has attached once the container runs; SIGTERM ends it, not the container.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(run.pid(), SIGTERM);
  CHECK(run.wait() == 128 + SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(root.inspect(name)["State"]["Running"] == true);
  CHECK_THAT(ps_status(root, name), Catch::StartsWith("Up "));
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("exec is exec_create, exec_start and exec_die in events, as Docker's", "[root]") {
  TestRoot root;
  const auto since = unix_now();
  const auto name = gctool::test::run_detached(root, {"sleep", "1000"});
  const auto id = root.inspect(name)["Id"].get<std::string>();
  CHECK(root.run({"exec", name, "sh", "-c", "exit 4"}).exit_code == 4);
  const auto lines =
      events(root, since, "",
             {"container=" + name, "event=exec_create", "event=exec_start", "event=exec_die"});
  std::istringstream in(lines);
  std::vector<std::string> got;
  for (std::string line; std::getline(in, line);) {
    got.push_back(line);
  }
  REQUIRE(got.size() == 3);
  const std::string stamp = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)";
  const std::string attrs = "image=busybox, name=" + name;
  std::smatch exec_id;
  REQUIRE(std::regex_match(got[0], exec_id,
                           std::regex(stamp + " container exec_create: sh -c exit 4 " + id +
                                      " \\(execID=([0-9a-f]{64}), " + attrs + "\\)")));
  CHECK(got[1].find(" container exec_start: sh -c exit 4 " + id + " (execID=" + exec_id[1].str() +
                    ", " + attrs + ")") != std::string::npos);
  CHECK(std::regex_match(got[2], std::regex(stamp + " container exec_die " + id + " \\(execID=" +
                                            exec_id[1].str() + ", exitCode=4, " + attrs + "\\)")));
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("a container the OOM killer ends is an oom event before die", "[root]") {
  TestRoot root;
  const auto since = unix_now();
  const auto name = unique_name("fgo");
  // Without swap, the shell holding 200 MB in a variable cannot stay under 16 MiB.
  const auto run = root.run({"run", "--name", name, "--network", "none", "-m", "16m",
                             "--memory-swap", "16m", "busybox", "sh", "-c",
                             "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"});
  INFO(run.err);
  CHECK(run.exit_code == 137);
  CHECK(run.out.empty());
  CHECK(root.inspect(name)["State"]["OOMKilled"] == true);
  CHECK(events(root, since, "{{.Action}}", {"container=" + name, "event=oom", "event=die"}) ==
        "oom\ndie\n");
  // A container that exits on its own has no oom event.
  const auto fine = unique_name("fgo");
  CHECK(root.run({"run", "--name", fine, "--network", "none", "-m", "16m", "busybox", "true"})
            .exit_code == 0);
  CHECK(events(root, since, "{{.Action}}", {"container=" + fine, "event=oom", "event=die"}) ==
        "die\n");
  CHECK(root.run({"rm", name, fine}).exit_code == 0);
  CHECK(root.leaks().empty());
}
