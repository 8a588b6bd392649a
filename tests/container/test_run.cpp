// `gctool run` end to end: the acceptance tests of the container runtime. Each test uses its own
// data root with the busybox image and checks afterwards that nothing was left behind.
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::Background;
using gctool::test::RunResult;
using gctool::test::TestRoot;
using gctool::test::unique_name;
using gctool::test::wait_running;

namespace {

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

TEST_CASE("run --rm echo prints and exits 0", "[root]") {
  TestRoot root;
  const auto r = root.run({"run", "--rm", "busybox", "echo", "hi"});
  CHECK(r.err == "");
  CHECK(r.out == "hi\n");
  CHECK(r.exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run exit codes follow Docker", "[root]") {
  TestRoot root;
  SECTION("the container's own code") {
    CHECK(root.run({"run", "--rm", "busybox", "sh", "-c", "exit 42"}).exit_code == 42);
  }
  SECTION("a missing command is 127 with one clear line") {
    const auto r = root.run({"run", "--rm", "busybox", "nosuchcmd"});
    CHECK(r.exit_code == 127);
    CHECK(r.err == "gctool: container init: exec \"nosuchcmd\": No such file or directory\n");
  }
  SECTION("a command that cannot be executed is 126") {
    CHECK(root.run({"run", "--rm", "busybox", "/etc/passwd"}).exit_code == 126);
  }
  SECTION("no command at all is gctool's failure") {
    const auto r = root.run({"run", "--rm", "busybox"});
    CHECK(r.exit_code == 125);
    CHECK(r.err == "gctool: no command specified\n");
  }
  SECTION("an unknown image") {
    const auto r = root.run({"run", "--rm", "nosuchimage", "true"});
    CHECK(r.exit_code == 125);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("pid 1 killed from the host makes run exit 137", "[root]") {
  TestRoot root;
  const auto name = unique_name("kill");
  Background run(root, {"run", "--rm", "--name", name, "busybox", "sleep", "100"});
  const auto info = wait_running(root, name);
  REQUIRE(!info.is_null());
  const pid_t pid = info["State"]["Pid"].get<int>();
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  CHECK(run.wait() == 137);
  CHECK(root.leaks().empty());
}

TEST_CASE("the container has its own pid, uts and mount namespaces", "[root]") {
  TestRoot root;
  SECTION("pid 1 is the command") {
    CHECK(root.run({"run", "--rm", "busybox", "sh", "-c", "echo $$"}).out == "1\n");
  }
  SECTION("ps sees only the container's processes") {
    const auto r =
        root.run({"run", "--rm", "busybox", "sh", "-c", "sleep 5 & sleep 0.2; ps -o pid,args"});
    CHECK(r.exit_code == 0);
    // Header, sh, sleep and ps: nothing of the host. args, not comm: busybox may run applets
    // through /proc/self/exe, which makes comm "exe".
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') <= 4);
    CHECK(r.out.find("sleep") != std::string::npos);
    CHECK(r.out.find("gctool") == std::string::npos);
  }
  SECTION("the hostname is the short id by default") {
    const auto name = unique_name("host");
    const auto r = root.run({"run", "--name", name, "busybox", "hostname"});
    const auto info = root.inspect(name);
    REQUIRE(!info.is_null());
    CHECK(trim(r.out) == info["Id"].get<std::string>().substr(0, 12));
    CHECK(root.run({"rm", name}).exit_code == 0);
  }
  SECTION("-h sets the hostname") {
    CHECK(root.run({"run", "--rm", "-h", "myhost", "busybox", "hostname"}).out == "myhost\n");
    CHECK(root.run({"run", "--rm", "-h", "myhost", "busybox", "cat", "/etc/hostname"}).out ==
          "myhost\n");
  }
  SECTION("loopback is up, and nothing else") {
    const auto r =
        root.run({"run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"});
    CHECK(r.out == "lo\n");
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("the environment is the image's and -e, nothing of gctool's", "[root]") {
  TestRoot root;
  ::setenv("GCTOOL_TEST_SECRET", "leak", 1);
  ::setenv("GCTOOL_TEST_PASSED", "from-caller", 1);
  const auto r = root.run({"run", "--rm", "-e", "FOO=bar", "-e", "GCTOOL_TEST_PASSED", "-e",
                           "UNSET_ONE", "-h", "envhost", "busybox", "env"});
  ::unsetenv("GCTOOL_TEST_SECRET");
  ::unsetenv("GCTOOL_TEST_PASSED");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("FOO=bar\n") != std::string::npos);
  CHECK(r.out.find("GCTOOL_TEST_PASSED=from-caller\n") != std::string::npos);
  CHECK(r.out.find("GCTOOL_TEST_SECRET") == std::string::npos);
  CHECK(r.out.find("UNSET_ONE") == std::string::npos);
  CHECK(r.out.find("HOSTNAME=envhost\n") != std::string::npos);
  CHECK(r.out.find("HOME=/root\n") != std::string::npos);
  CHECK(r.out.find("PATH=/usr/local/sbin:") != std::string::npos);
  CHECK(r.out.find("TERM=") == std::string::npos);
  CHECK(root.leaks().empty());
}

TEST_CASE("flag -w, -u and --read-only", "[root]") {
  TestRoot root;
  CHECK(root.run({"run", "--rm", "-w", "/tmp/work/dir", "busybox", "pwd"}).out ==
        "/tmp/work/dir\n");
  CHECK(root.run({"run", "--rm", "-u", "nobody", "busybox", "id"})
            .out.starts_with("uid=65534(nobody) gid=65534(nogroup)"));
  CHECK(root.run({"run", "--rm", "-u", "1234:5678", "busybox", "sh", "-c", "id -u; id -g"}).out ==
        "1234\n5678\n");
  CHECK(root.run({"run", "--rm", "-u", "nosuchuser", "busybox", "id"}).exit_code == 125);
  CHECK(root.run({"run", "--rm", "--read-only", "busybox", "touch", "/x"}).exit_code != 0);
  CHECK(root.run({"run", "--rm", "--read-only", "busybox", "touch", "/dev/shm/x"}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("the container's writes stay in the container", "[root]") {
  TestRoot root;
  const auto name = unique_name("writer");
  REQUIRE(root.run({"run", "--name", name, "busybox", "sh", "-c", "echo x > /marker"}).exit_code ==
          0);
  // Not in the image's layer, not in the next container.
  const auto layers = root.inspect(name)["Gctool"]["LayerDirs"];
  REQUIRE(layers.size() == 1);
  CHECK(!std::filesystem::exists(std::filesystem::path(layers[0].get<std::string>()) / "marker"));
  CHECK(root.run({"run", "--rm", "busybox", "cat", "/marker"}).exit_code == 1);
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("a --rm container's root is never synced to disk but a kept container's is", "[root]") {
  TestRoot root;
  const std::vector<std::string> root_mount = {"busybox", "grep", " / ", "/proc/mounts"};
  std::vector<std::string> removed = {"run", "--rm"};
  removed.insert(removed.end(), root_mount.begin(), root_mount.end());
  const auto scratch = root.run(removed);
  REQUIRE(scratch.exit_code == 0);
  CHECK(scratch.out.find("volatile") != std::string::npos);
  const auto name = unique_name("kept");
  std::vector<std::string> kept = {"run", "--name", name};
  kept.insert(kept.end(), root_mount.begin(), root_mount.end());
  const auto synced = root.run(kept);
  REQUIRE(synced.exit_code == 0);
  CHECK(synced.out.find("overlay") != std::string::npos);
  CHECK(synced.out.find("volatile") == std::string::npos);
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("flag -v binds host directories, :ro read-only", "[root]") {
  TestRoot root;
  gctool::test::TempDir host("gct-volume");
  CHECK(root.run({"run", "--rm", "-v", host.str() + ":/data", "busybox", "sh", "-c",
                  "echo hello > /data/f"})
            .exit_code == 0);
  CHECK(read_text(host.path() / "f") == "hello\n");
  const auto ro = root.run({"run", "--rm", "-v", host.str() + ":/data:ro", "busybox", "sh", "-c",
                            "cat /data/f && echo x > /data/g"});
  CHECK(ro.out == "hello\n");
  CHECK(ro.exit_code != 0);
  CHECK(!std::filesystem::exists(host.path() / "g"));
  const auto missing = root.run({"run", "--rm", "-v", "/no/such/dir:/data", "busybox", "true"});
  CHECK(missing.exit_code == 125);
  CHECK(root.leaks().empty());
}

TEST_CASE("cgroup limits", "[root]") {
  TestRoot root;
  SECTION("-m 32m: a process that needs 64 MiB is OOM killed") {
    const auto name = unique_name("oom");
    // tmpfs pages are charged to the memory cgroup of the writer.
    const auto r = root.run({"run", "--name", name, "-m", "32m", "busybox", "dd", "if=/dev/zero",
                             "of=/dev/shm/fill", "bs=1M", "count=60"});
    CHECK(r.exit_code == 137);
    const auto info = root.inspect(name);
    REQUIRE(!info.is_null());
    CHECK(info["State"]["OOMKilled"].get<bool>());
    CHECK(info["State"]["ExitCode"].get<int>() == 137);
    CHECK(info["HostConfig"]["Memory"].get<std::int64_t>() == 32 * 1024 * 1024);
    CHECK(root.run({"rm", name}).exit_code == 0);
  }
  SECTION("--cpus 0.5 is a 50000us quota; --pids-limit is pids.max") {
    const auto name = unique_name("cpu");
    Background run(root, {"run", "--rm", "--name", name, "--cpus", "0.5", "--pids-limit", "10",
                          "busybox", "sleep", "100"});
    const auto info = wait_running(root, name);
    REQUIRE(!info.is_null());
    const std::string cg = info["Gctool"]["CgroupPath"].get<std::string>();
    CHECK(trim(read_text("/sys/fs/cgroup/cpu/" + cg + "/cpu.cfs_quota_us")) == "50000");
    CHECK(trim(read_text("/sys/fs/cgroup/pids/" + cg + "/pids.max")) == "10");
    CHECK(root.run({"rm", "-f", name}).exit_code == 0);
    CHECK(run.wait() == 137);
  }
  SECTION("--pids-limit stops a fork bomb") {
    const auto r = root.run({"run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c",
                             "for i in $(seq 1 30); do sleep 2 & done; wait"});
    CHECK(r.err.find("fork") != std::string::npos);
  }
  SECTION("invalid limits fail before anything is created") {
    const auto r = root.run({"run", "--rm", "-m", "1k", "busybox", "true"});
    CHECK(r.exit_code == 125);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(root.run({"run", "--rm", "--cpus", "abc", "busybox", "true"}).exit_code == 125);
    CHECK(root.run({"run", "--rm", "--cpuset-cpus", "99", "busybox", "true"}).exit_code == 125);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("flag -t runs the command on a pty", "[root]") {
  TestRoot root;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl(GCTOOL_BINARY, GCTOOL_BINARY, "--root", root.root().c_str(), "run", "--rm", "-t",
            "busybox", "sh", "-c", "tty; echo $TERM", nullptr);
    ::_exit(127);
  }
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) {
      break;
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(out.find("/dev/pts/") != std::string::npos);
  CHECK(out.find("xterm") != std::string::npos);
  CHECK(root.leaks().empty());
}
