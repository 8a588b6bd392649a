// `gctool exec` acceptance tests: a process started in a running container sees its pid 1,
// hostname, environment and filesystem, gets its cgroup, rlimits and security settings, and
// returns its exit code; plus the Restarting status of a container waiting to be restarted.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "container_support.hpp"
#include "gctool/core/proc.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kDockerDefaultCaps = "00000000a80425fb";

}  // namespace

TEST_CASE("exec sees the container's pid 1, hostname, environment and filesystem", "[root][exec]") {
  TestRoot root;
  const auto name = run_detached(root, {"sh", "-c", "echo made-by-init > /made; exec sleep 1000"},
                                 {"--hostname", "exechost", "-e", "FOO=bar", "-w", "/tmp"});
  // Until the container's shell has written the file and become `sleep`.
  const auto r = root.run({"exec", "-e", "BAR=baz", name, "sh", "-c",
                           "until [ -e /made ] && grep -q sleep /proc/1/cmdline; do sleep 0.05; "
                           "done; cat /made; tr '\\0' ' ' < /proc/1/cmdline; echo; hostname; "
                           "echo $FOO $BAR; pwd; [ $$ != 1 ] && echo not-pid-1"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "made-by-init\nsleep 1000 \nexechost\nbar baz\n/tmp\nnot-pid-1\n");
  SECTION("argv is passed as given, without a shell") {
    const auto echo = root.run({"exec", name, "echo", "a  b", "$HOME", ";", "exit 3"});
    CHECK(echo.exit_code == 0);
    CHECK(echo.out == "a  b $HOME ; exit 3\n");
  }
  SECTION("-w and -u") {
    const auto w = root.run({"exec", "-w", "/etc", "-u", "1000:1001", name, "sh", "-c",
                             "pwd; id -u; id -g; echo $HOME"});
    INFO(w.err);
    CHECK(w.out == "/etc\n1000\n1001\n/\n");
    const auto missing = root.run({"exec", "-w", "/no/such/dir", name, "pwd"});
    CHECK(missing.exit_code != 0);
    CHECK(missing.out == "");
    CHECK(missing.err.find("/no/such/dir") != std::string::npos);
    // A missing working directory is not created.
    CHECK(root.run({"exec", name, "ls", "/no"}).exit_code != 0);
  }
  SECTION("-i passes stdin; without it the process reads /dev/null") {
    CHECK(root.run({"exec", "-i", name, "cat"}, "hello\n").out == "hello\n");
    CHECK(root.run({"exec", name, "cat"}, "hello\n").out == "");
  }
  SECTION("-d returns at once and the process runs on") {
    const auto d = root.run({"exec", "-d", name, "sh", "-c", "echo detached > /detached"});
    CHECK(d.exit_code == 0);
    CHECK(d.out == "");
    CHECK(wait_until(
        [&] {
          return root.run({"exec", name, "cat", "/detached"}).out == "detached\n";
        },
        10s));
  }
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("exec returns the command's exit code, 126/127 when it cannot run", "[root][exec]") {
  TestRoot root;
  const auto name = run_detached(root, {"sleep", "1000"});
  CHECK(root.run({"exec", name, "sh", "-c", "exit 7"}).exit_code == 7);
  CHECK(root.run({"exec", name, "true"}).exit_code == 0);
  const auto missing = root.run({"exec", name, "no-such-command"});
  CHECK(missing.exit_code == 127);
  CHECK(missing.err.find("no-such-command") != std::string::npos);
  CHECK(root.run({"exec", name, "/etc"}).exit_code == 126);
  // Killed by a signal: 128 + N, as a shell reports it.
  CHECK(root.run({"exec", name, "sh", "-c", "kill -TERM $$"}).exit_code == 128 + SIGTERM);
  remove(root, name);
  CHECK(root.leaks().empty());
}

// Docker: a container that is not running or does not exist is the daemon's error, exit 1; a
// missing command is the CLI's, 125.
TEST_CASE("exec into a container that is not running fails with 1", "[root][exec]") {
  TestRoot root;
  const auto name = run_detached(root, {"true"});
  CHECK(root.run({"wait", name}).exit_code == 0);
  const auto r = root.run({"exec", name, "true"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "gctool: container " + name + " is not running\n");
  CHECK(root.run({"exec", "no-such-container", "true"}).exit_code == 1);
  CHECK(root.run({"exec", name}).exit_code == 125);
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("exec -t runs the command on a pty of the container", "[root][exec]") {
  TestRoot root;
  const auto name = run_detached(root, {"sleep", "1000"});
  const auto r = root.run({"exec", "-t", name, "sh", "-c", "tty; echo $TERM"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("/dev/pts/") != std::string::npos);
  CHECK(r.out.find("xterm") != std::string::npos);
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("exec applies the container's security settings, cgroup and rlimits", "[root][exec]") {
  TestRoot root;
  const auto name = run_detached(root, {"sleep", "1000"});
  const auto sh = [&](const std::string& script) {
    return root.run({"exec", name, "sh", "-c", script});
  };
  SECTION("Docker's default capabilities, no_new_privs and seccomp") {
    auto status = status_fields(root.run({"exec", name, "cat", "/proc/self/status"}).out);
    CHECK(status["CapEff"] == kDockerDefaultCaps);
    CHECK(status["CapPrm"] == kDockerDefaultCaps);
    CHECK(status["CapBnd"] == kDockerDefaultCaps);
    CHECK(status["CapInh"] == "0000000000000000");
    CHECK(status["CapAmb"] == "0000000000000000");
    CHECK(status["NoNewPrivs"] == "1");
    CHECK(status["Seccomp"] == "2");
  }
  SECTION("mount, unshare and protected /proc files") {
    CHECK(sh("mount -t tmpfs x /mnt").exit_code != 0);
    CHECK(sh("unshare -m true").exit_code != 0);
    CHECK(sh("echo h > /proc/sysrq-trigger").exit_code != 0);
    CHECK(sh("cat /proc/kcore").out == "");
  }
  SECTION("no fd of the caller") {
    // Not close-on-exec: gctool inherits it.
    const int fd = ::open("/", O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    const auto r = root.run({"exec", name, "ls", "/proc/self/fd"});
    ::close(fd);
    // 0, 1, 2 and the directory ls reads.
    CHECK(r.out == "0\n1\n2\n3\n");
  }
  SECTION("the container's cgroup") {
    const auto own = sh("cat /proc/self/cgroup");
    CHECK(own.exit_code == 0);
    CHECK(own.out == sh("cat /proc/1/cgroup").out);
    // Seen from the host too: the exec'd process is in the container's cgroup.
    const auto info = root.inspect(name);
    const std::string cg = info["Gctool"]["CgroupPath"].get<std::string>();
    const auto procs_file = "/sys/fs/cgroup/pids/" + cg + "/cgroup.procs";
    const auto d = root.run({"exec", "-d", name, "sleep", "1000"});
    CHECK(d.exit_code == 0);
    CHECK(wait_until(
        [&] {
          std::ifstream procs(procs_file);
          int lines = 0;
          for (std::string line; std::getline(procs, line);) {
            ++lines;
          }
          return lines == 2;
        },
        10s));
  }
  SECTION("the container's rlimits, not the caller's") {
    // The soft limit only: raising a hard limit back needs CAP_SYS_RESOURCE, which the host may
    // not give root.
    const auto container = sh("ulimit -n");
    const auto lowered =
        run_program({"sh", "-c", "ulimit -S -n 99 && exec \"$0\" \"$@\"", GCTOOL_BINARY, "--root",
                     root.root(), "exec", name, "sh", "-c", "ulimit -n"});
    INFO(lowered.err);
    CHECK(lowered.exit_code == 0);
    CHECK(lowered.out == container.out);
    CHECK(lowered.out != "99\n");
  }
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("exec follows the container's --cap-drop and --privileged", "[root][exec]") {
  TestRoot root;
  const auto dropped = run_detached(root, {"sleep", "1000"}, {"--cap-drop", "ALL"});
  const auto privileged = run_detached(root, {"sleep", "1000"}, {"--privileged"});
  const auto status_in = [&](const std::string& name) {
    return status_fields(root.run({"exec", name, "cat", "/proc/self/status"}).out);
  };
  CHECK(status_in(dropped)["CapEff"] == "0000000000000000");
  auto host = status_fields(run_program({"cat", "/proc/self/status"}).out);
  auto full = status_in(privileged);
  CHECK(full["CapEff"] == host["CapBnd"]);
  CHECK(full["Seccomp"] == "0");
  remove(root, dropped);
  remove(root, privileged);
  CHECK(root.leaks().empty());
}

TEST_CASE("a container waiting to be restarted shows Restarting", "[root][exec]") {
  TestRoot root;
  // The back-off doubles from 100ms, so the container soon spends most of its time waiting.
  const auto name = run_detached(root, {"sh", "-c", "exit 3"}, {"--restart", "on-failure:30"});
  CHECK(wait_until([&] { return status_of(root, name).starts_with("Restarting (3) "); }, 60s));
  const auto info = root.inspect(name);
  CHECK(info["State"]["Status"] == "restarting");
  CHECK(info["State"]["Restarting"] == true);
  CHECK(info["State"]["ExitCode"] == 3);
  // Listed with the running containers, as Docker does.
  CHECK(root.run({"ps", "-q"}).out.find(info["Id"].get<std::string>().substr(0, 12)) !=
        std::string::npos);
  CHECK(root.run({"rm", name}).exit_code != 0);
  const auto stop = root.run({"stop", "-t", "1", name});
  INFO(stop.err);
  CHECK(stop.exit_code == 0);
  CHECK(status_of(root, name).starts_with("Exited (3) "));
  CHECK(root.inspect(name)["State"]["Restarting"] == false);
  remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("a supervisor killed while restarting leaves an exited container", "[root][exec]") {
  TestRoot root;
  const auto name = run_detached(root, {"sh", "-c", "exit 3"}, {"--restart", "on-failure:30"});
  const auto info = root.inspect(name);
  const pid_t supervisor = info["Gctool"]["Owner"]["Pid"].get<pid_t>();
  const auto config = std::filesystem::path(root.root()) / "containers" /
                      info["Id"].get<std::string>() / "config.json";
  // Freeze the supervisor and read its record directly (it may hold the store lock): kill it
  // when frozen during a back-off, otherwise let it go on and try again.
  const bool caught = wait_until(
      [&] {
        REQUIRE(::kill(supervisor, SIGSTOP) == 0);
        std::ifstream in(config);
        const auto json = nlohmann::json::parse(in, nullptr, false);
        if (!json.is_discarded() && json["State"]["Status"] == "restarting") {
          ::kill(supervisor, SIGKILL);
          return true;
        }
        ::kill(supervisor, SIGCONT);
        return false;
      },
      60s);
  REQUIRE(caught);
  CHECK(wait_until([&] { return !std::filesystem::exists("/proc/" + std::to_string(supervisor)); },
                   10s));
  CHECK(status_of(root, name).starts_with("Exited (3) "));
  CHECK(root.inspect(name)["State"]["Restarting"] == false);
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}
