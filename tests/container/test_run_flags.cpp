// The `run`/`create` flags around the container: --label/--label-file, --ulimit, --shm-size,
// --cidfile, --stop-signal, --stop-timeout, -P/--expose, -a, --log-driver, the health checks,
// end to end as a user sees them.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "container_support.hpp"

using gctool::test::check_refused;
using gctool::test::output_lines;
using gctool::test::read_whole_file;
using gctool::test::TempDir;
using gctool::test::TestRoot;
using gctool::test::unique_name;
using gctool::test::wait_running;

TEST_CASE("run --label and --label-file are in inspect and filter ps", "[root]") {
  TestRoot root;
  TempDir dir;
  std::ofstream(dir.path() / "labels") << "# team labels\n\ntier=web\nowner=ops\n";
  const auto name = unique_name("labels");
  const auto created =
      root.run({"create", "--name", name, "--label", "app=shop", "-l", "owner=me", "--label",
                "flag", "--label-file", (dir.path() / "labels").string(), "busybox", "true"});
  REQUIRE(created.exit_code == 0);
  const auto id = created.out.substr(0, created.out.find('\n'));
  const auto labels = root.inspect(name)["Config"]["Labels"];
  // --label wins over --label-file for the same key, as Docker.
  CHECK(labels == nlohmann::json{{"app", "shop"}, {"owner", "me"}, {"flag", ""}, {"tier", "web"}});
  CHECK(root.run({"ps", "-a", "-q", "--no-trunc", "--filter", "label=app=shop"}).out == id + "\n");
  CHECK(root.run({"ps", "-a", "-q", "--no-trunc", "--filter", "label=tier"}).out == id + "\n");
  CHECK(root.run({"ps", "-a", "-q", "--filter", "label=app=other"}).out == "");
  CHECK(root.run({"ps", "-a", "--filter", "name=" + name, "--format", "{{.Labels}}"}).out ==
        "app=shop,flag=,owner=me,tier=web\n");
  check_refused(root, {"--label", "=x"});
  check_refused(root, {"--label-file", "/nonexistent/labels"});
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run --ulimit sets the container's limits, also for exec", "[root]") {
  TestRoot root;
  const auto r = root.run({"run", "--rm", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=500",
                           "busybox", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "1024\n2048\n500\n500\n");
  const auto name = unique_name("ulimit");
  REQUIRE(root.run({"run", "-d", "--name", name, "--ulimit", "nofile=512:1024", "busybox", "sleep",
                    "100"})
              .exit_code == 0);
  CHECK(root.run({"exec", name, "sh", "-c", "ulimit -n"}).out == "512\n");
  const auto info = root.inspect(name);
  CHECK(info["HostConfig"]["Ulimits"] ==
        nlohmann::json::parse(R"([{"Name":"nofile","Soft":512,"Hard":1024}])"));
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  for (const auto* bad : {"nofile", "nofile=abc", "bogus=1", "nofile=10:5", "nofile=1:2:3"}) {
    check_refused(root, {"--ulimit", bad});
  }
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --shm-size sizes /dev/shm", "[root]") {
  TestRoot root;
  const auto r = root.run({"run", "--rm", "--shm-size", "8m", "busybox", "df", "-k", "/dev/shm"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(" 8192 ") != std::string::npos);
  const auto plain = root.run({"run", "--rm", "busybox", "df", "-k", "/dev/shm"});
  CHECK(plain.out.find(" 65536 ") != std::string::npos);
  const auto name = unique_name("shm");
  REQUIRE(root.run({"create", "--name", name, "--shm-size", "16m", "busybox", "true"}).exit_code ==
          0);
  CHECK(root.inspect(name)["HostConfig"]["ShmSize"] == 16 * 1024 * 1024);
  CHECK(root.run({"rm", name}).exit_code == 0);
  for (const auto* bad : {"abc", "0", "-1m"}) {
    check_refused(root, {"--shm-size", bad});
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("run --cidfile holds the id and is never overwritten", "[root]") {
  TestRoot root;
  TempDir dir;
  const auto cidfile = (dir.path() / "cid").string();
  SECTION("run -d") {
    const auto r = root.run({"run", "-d", "--cidfile", cidfile, "busybox", "sleep", "100"});
    REQUIRE(r.exit_code == 0);
    CHECK(read_whole_file(cidfile) + "\n" == r.out);
    const auto again = root.run({"run", "-d", "--cidfile", cidfile, "busybox", "true"});
    CHECK(again.exit_code == 125);
    CHECK(again.err.find("container ID file found") != std::string::npos);
    CHECK(output_lines(root.run({"ps", "-a", "-q"}).out) == 1);
    CHECK(root.run({"rm", "-f", read_whole_file(cidfile)}).exit_code == 0);
  }
  SECTION("create and a foreground run") {
    const auto c = root.run({"create", "--cidfile", cidfile, "busybox", "true"});
    REQUIRE(c.exit_code == 0);
    CHECK(read_whole_file(cidfile) + "\n" == c.out);
    const auto fg_cid = (dir.path() / "fg").string();
    CHECK(root.run({"run", "--rm", "--cidfile", fg_cid, "busybox", "true"}).exit_code == 0);
    CHECK(read_whole_file(fg_cid).size() == 64);
    CHECK(root.run({"rm", read_whole_file(cidfile)}).exit_code == 0);
  }
  SECTION("a run that fails leaves no file") {
    const auto r =
        root.run({"run", "--cidfile", cidfile, "--ulimit", "bogus=1", "busybox", "true"});
    CHECK(r.exit_code == 125);
    CHECK(!std::filesystem::exists(cidfile));
    const auto missing = root.run({"run", "-d", "--cidfile", cidfile, "nosuchimage"});
    CHECK(missing.exit_code == 125);
    CHECK(!std::filesystem::exists(cidfile));
  }
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --stop-signal and --stop-timeout are what stop uses", "[root]") {
  TestRoot root;
  const auto name = unique_name("stopsig");
  // The shell as pid 1 has no default action for signals: only a trap ends it.
  REQUIRE(root.run({"run", "-d", "--name", name, "--stop-signal", "SIGUSR1", "busybox", "sh", "-c",
                    "trap 'exit 7' USR1; while true; do sleep 0.1; done"})
              .exit_code == 0);
  CHECK(root.inspect(name)["Config"]["StopSignal"] == "SIGUSR1");
  CHECK(root.run({"stop", name}).exit_code == 0);
  CHECK(root.inspect(name)["State"]["ExitCode"] == 7);
  CHECK(root.run({"rm", name}).exit_code == 0);

  const auto patient = unique_name("stoptime");
  REQUIRE(
      root.run({"run", "-d", "--name", patient, "--stop-timeout", "1", "busybox", "sleep", "1000"})
          .exit_code == 0);
  CHECK(root.inspect(patient)["Config"]["StopTimeout"] == 1);
  // sleep as pid 1 ignores SIGTERM: the container is killed once the timeout has passed.
  CHECK(root.run({"stop", patient}).exit_code == 0);
  CHECK(root.inspect(patient)["State"]["ExitCode"] == 137);
  CHECK(root.run({"rm", patient}).exit_code == 0);

  check_refused(root, {"--stop-signal", "SIGNOPE"});
  check_refused(root, {"--stop-timeout", "soon"});
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run -P publishes the --expose ports on free host ports", "[root]") {
  TestRoot root;
  const auto name = unique_name("expose");
  REQUIRE(root.run({"run", "-d", "--name", name, "-P", "--expose", "8080", "--expose", "53/udp",
                    "-p", "9000:9000", "--expose", "9000", "busybox", "sleep", "100"})
              .exit_code == 0);
  REQUIRE(!wait_running(root, name).is_null());
  const auto ports = root.run({"port", name});
  CHECK(ports.exit_code == 0);
  CHECK(output_lines(ports.out) == 3);
  CHECK(ports.out.find("8080/tcp -> 0.0.0.0:") != std::string::npos);
  CHECK(ports.out.find("53/udp -> 0.0.0.0:") != std::string::npos);
  // Published by -p already: not a second time.
  CHECK(ports.out.find("9000/tcp -> 0.0.0.0:9000\n") != std::string::npos);
  CHECK(ports.out.find("8080/tcp -> 0.0.0.0:0\n") == std::string::npos);
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  // --expose without -P publishes nothing.
  const auto quiet = unique_name("exposeonly");
  REQUIRE(root.run({"run", "-d", "--name", quiet, "--expose", "8080", "busybox", "sleep", "100"})
              .exit_code == 0);
  CHECK(root.run({"port", quiet}).out == "");
  CHECK(root.run({"rm", "-f", quiet}).exit_code == 0);
  check_refused(root, {"--expose", "http"});
  CHECK(root.leaks().empty());
}

TEST_CASE("run -a shows only the attached streams; logs keep both", "[root]") {
  TestRoot root;
  const std::vector<std::string> both = {"busybox", "sh", "-c", "echo out; echo err >&2"};
  const auto run_attached = [&](std::vector<std::string> flags) {
    const auto name = unique_name("attach");
    std::vector<std::string> args = {"run", "--name", name, "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), both.begin(), both.end());
    const auto r = root.run(args);
    CHECK(r.exit_code == 0);
    const auto logs = root.run({"logs", name});
    CHECK(logs.out == "out\n");
    CHECK(logs.err == "err\n");
    CHECK(root.run({"rm", name}).exit_code == 0);
    return r;
  };
  const auto out_only = run_attached({"-a", "stdout"});
  CHECK(out_only.out == "out\n");
  CHECK(out_only.err == "");
  const auto err_only = run_attached({"-a", "STDERR"});
  CHECK(err_only.out == "");
  CHECK(err_only.err == "err\n");
  const auto stdin_only = run_attached({"-a", "stdin"});
  CHECK(stdin_only.out == "");
  CHECK(stdin_only.err == "");
  const auto all = run_attached({"-a", "stdout", "-a", "stderr"});
  CHECK(all.out == "out\n");
  CHECK(all.err == "err\n");
  check_refused(root, {"-a", "stdlog"});
  check_refused(root, {"-a", "stdout", "-d"});
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --log-driver json-file, local and none: the files and what logs says", "[root]") {
  TestRoot root;
  const std::vector<std::string> command = {"busybox", "sh", "-c", "echo out; echo 'e\"rr' >&2"};
  const auto run_with = [&](const std::string& driver, bool detach) {
    const auto name = unique_name("logdrv");
    std::vector<std::string> args = {"run", "--name", name, "--network", "none"};
    if (detach) {
      args.push_back("-d");
    }
    if (!driver.empty()) {
      args.insert(args.end(), {"--log-driver", driver});
    }
    args.insert(args.end(), command.begin(), command.end());
    const auto r = root.run(args);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(root.run({"wait", name}).out == "0\n");
    return name;
  };
  const auto files_of = [&](const std::string& name) {
    const auto id = root.inspect(name)["Id"].get<std::string>();
    const auto dir = std::filesystem::path(root.root()) / "containers" / id;
    return std::make_pair(dir, id);
  };
  for (const bool detach : {false, true}) {
    INFO("detached: " << detach);
    // json-file: Docker's format and path, which logs reads.
    const auto json = run_with("json-file", detach);
    const auto [json_dir, json_id] = files_of(json);
    const auto text = read_whole_file(json_dir / (json_id + "-json.log"));
    CHECK(text.starts_with("{\"log\":\"out\\n\",\"stream\":\"stdout\",\"time\":\"20"));
    CHECK(text.find("{\"log\":\"e\\\"rr\\n\",\"stream\":\"stderr\",\"time\":\"") !=
          std::string::npos);
    CHECK(std::count(text.begin(), text.end(), '\n') == 2);
    CHECK(!std::filesystem::exists(json_dir / "container.log"));
    const auto logs = root.run({"logs", json});
    CHECK(logs.out == "out\n");
    CHECK(logs.err == "e\"rr\n");
    CHECK(root.inspect(json)["HostConfig"]["LogConfig"]["Type"] == "json-file");
    // local, the default: CRI records in container.log.
    const auto local = run_with("", detach);
    const auto [local_dir, local_id] = files_of(local);
    CHECK(read_whole_file(local_dir / "container.log").find(" stdout F out\n") !=
          std::string::npos);
    CHECK(root.run({"logs", local}).out == "out\n");
    CHECK(root.inspect(local)["HostConfig"]["LogConfig"]["Type"] == "local");
    // none: nothing kept, and logs says so as Docker does.
    const auto none = run_with("none", detach);
    const auto [none_dir, none_id] = files_of(none);
    CHECK(!std::filesystem::exists(none_dir / "container.log"));
    CHECK(!std::filesystem::exists(none_dir / (none_id + "-json.log")));
    const auto refused = root.run({"logs", none});
    CHECK(refused.exit_code == 1);
    CHECK(refused.out == "");
    CHECK(refused.err == "gctool: configured logging driver does not support reading\n");
    CHECK(root.run({"rm", json, local, none}).exit_code == 0);
  }
  // A rotated json-file log keeps Docker's names.
  const auto rotated = unique_name("logrot");
  REQUIRE(root.run({"run", "--name", rotated, "--network", "none", "--log-driver", "json-file",
                    "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
                    "seq 1 200"})
              .exit_code == 0);
  const auto [rot_dir, rot_id] = files_of(rotated);
  CHECK(std::filesystem::exists(rot_dir / (rot_id + "-json.log.1")));
  CHECK(root.run({"logs", "--tail", "2", rotated}).out == "199\n200\n");
  CHECK(root.run({"rm", rotated}).exit_code == 0);
  check_refused(root, {"--log-driver", "syslog"});
  check_refused(root, {"--log-driver", "none", "--log-opt", "max-size=1m"});
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

namespace {

// inspect's State.Health once its Status is `status` (up to 15 s); null otherwise.
nlohmann::json wait_health(const TestRoot& root, const std::string& name,
                           const std::string& status) {
  for (int i = 0; i < 300; ++i) {
    const auto info = root.inspect(name);
    if (!info.is_null() && info["State"].contains("Health") &&
        info["State"]["Health"]["Status"] == status) {
      return info["State"]["Health"];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return nullptr;
}

std::string ps_status(const TestRoot& root, const std::string& name) {
  return root.run({"ps", "--filter", "name=" + name, "--format", "{{.Status}}"}).out;
}

}  // namespace

TEST_CASE("run --health-cmd: starting, healthy and unhealthy in inspect and ps", "[root]") {
  TestRoot root;
  const auto healthy = gctool::test::run_detached(
      root, {"sh", "-c", "touch /tmp/ok; exec sleep 100"},
      {"--health-cmd", "test -e /tmp/ok && echo fine", "--health-interval", "200ms"});
  const auto health = wait_health(root, healthy, "healthy");
  REQUIRE(!health.is_null());
  CHECK(health["FailingStreak"] == 0);
  REQUIRE(!health["Log"].empty());
  CHECK(health["Log"].back()["ExitCode"] == 0);
  CHECK(health["Log"].back()["Output"] == "fine\n");
  CHECK(root.inspect(healthy)["Config"]["Healthcheck"] ==
        nlohmann::json{{"Test", {"CMD-SHELL", "test -e /tmp/ok && echo fine"}},
                       {"Interval", 200'000'000}});
  CHECK_THAT(ps_status(root, healthy), Catch::EndsWith(" (healthy)\n"));

  // Failing: unhealthy after --health-retries failures, the last 5 results kept.
  const auto sick = gctool::test::run_detached(
      root, {"sleep", "100"},
      {"--health-cmd", "echo bad; exit 3", "--health-interval", "100ms", "--health-retries", "2"});
  const auto unhealthy = wait_health(root, sick, "unhealthy");
  REQUIRE(!unhealthy.is_null());
  CHECK(unhealthy["FailingStreak"] >= 2);
  CHECK(unhealthy["Log"].back()["ExitCode"] == 3);
  CHECK(unhealthy["Log"].back()["Output"] == "bad\n");
  // Only the last 5 results stay: the oldest goes as new ones come.
  std::string first_start;
  for (int i = 0; i < 300 && first_start.empty(); ++i) {
    const auto log = root.inspect(sick)["State"]["Health"]["Log"];
    if (log.size() == 5) {
      first_start = log.front()["Start"].get<std::string>();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(!first_start.empty());
  for (int i = 0; i < 300; ++i) {
    const auto log = root.inspect(sick)["State"]["Health"]["Log"];
    REQUIRE(log.size() == 5);
    if (log.front()["Start"] != first_start) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(root.inspect(sick)["State"]["Health"]["Log"].front()["Start"] != first_start);
  CHECK_THAT(ps_status(root, sick), Catch::EndsWith(" (unhealthy)\n"));

  // A check that outlives its timeout fails with Docker's message.
  const auto slow =
      gctool::test::run_detached(root, {"sleep", "100"},
                                 {"--health-cmd", "sleep 5", "--health-timeout", "300ms",
                                  "--health-interval", "100ms", "--health-retries", "1"});
  const auto timed_out = wait_health(root, slow, "unhealthy");
  REQUIRE(!timed_out.is_null());
  CHECK(timed_out["Log"].back()["ExitCode"] == -1);
  CHECK(timed_out["Log"].back()["Output"] == "Health check exceeded timeout (300ms)");

  // Before the first check, and failures within the start period (checked every start
  // interval, as Docker 25+): starting.
  const auto waiting = gctool::test::run_detached(
      root, {"sleep", "100"},
      {"--health-cmd", "exit 1", "--health-interval", "100ms", "--health-retries", "1",
       "--health-start-period", "1h", "--health-start-interval", "100ms"});
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const auto starting = root.inspect(waiting)["State"]["Health"];
  CHECK(starting["Status"] == "starting");
  CHECK(starting["FailingStreak"] == 0);
  CHECK(!starting["Log"].empty());
  CHECK_THAT(ps_status(root, waiting), Catch::EndsWith(" (health: starting)\n"));

  const auto plain = gctool::test::run_detached(root, {"sleep", "100"});
  CHECK(!root.inspect(plain)["State"].contains("Health"));
  CHECK_THAT(ps_status(root, plain), !Catch::Contains("health"));
  const auto filtered = [&](const std::string& value) {
    return root.run({"ps", "--filter", "health=" + value, "--format", "{{.Names}}"}).out;
  };
  CHECK(filtered("healthy") == healthy + "\n");
  CHECK(filtered("unhealthy").find(sick + "\n") != std::string::npos);
  CHECK(filtered("starting") == waiting + "\n");
  CHECK(filtered("none") == plain + "\n");
  const auto bad_filter = root.run({"ps", "--filter", "health=sick"});
  CHECK(bad_filter.exit_code == 125);
  CHECK(output_lines(bad_filter.err) == 1);

  CHECK(root.run({"rm", "-f", healthy, sick, slow, waiting, plain}).exit_code == 0);
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--health-interval", "-1s"},
                                              {"--health-interval", "soon"},
                                              {"--health-timeout", "1ns"},
                                              {"--health-retries", "-1"},
                                              {"--no-healthcheck", "--health-cmd", "true"}}) {
    check_refused(root, bad);
  }
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("the image's HEALTHCHECK runs unless --no-healthcheck", "[root]") {
  TestRoot root;
  TempDir context;
  {
    std::ofstream(context.path() / "Dockerfile")
        << "FROM busybox\nHEALTHCHECK --interval=100ms --retries=1 CMD [\"true\"]\n";
  }
  const auto image = unique_name("hcimage");
  const auto built = root.run({"build", "-q", "--network", "none", "-t", image, context.str()});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  const auto checked = unique_name("hc");
  REQUIRE(root.run({"run", "-d", "--name", checked, "--network", "none", image, "sleep", "100"})
              .exit_code == 0);
  CHECK(!wait_health(root, checked, "healthy").is_null());
  // --health-* flags go over the image's settings one by one.
  const auto merged = unique_name("hcmerged");
  REQUIRE(
      root.run({"create", "--name", merged, "--health-retries", "4", image, "true"}).exit_code ==
      0);
  CHECK(root.inspect(merged)["Config"]["Healthcheck"] ==
        nlohmann::json{{"Test", {"CMD", "true"}}, {"Interval", 100'000'000}, {"Retries", 4}});
  const auto disabled = unique_name("hcoff");
  REQUIRE(root.run({"run", "-d", "--name", disabled, "--network", "none", "--no-healthcheck", image,
                    "sleep", "100"})
              .exit_code == 0);
  REQUIRE(!wait_running(root, disabled).is_null());
  const auto info = root.inspect(disabled);
  CHECK(info["Config"]["Healthcheck"]["Test"] == nlohmann::json{"NONE"});
  CHECK(!info["State"].contains("Health"));
  CHECK(root.run({"rm", "-f", checked, merged, disabled}).exit_code == 0);
  CHECK(root.leaks().empty());
}
