// `gctool run` security acceptance tests: Docker's default capabilities, no_new_privs, the
// default seccomp filter, masked and read-only paths, --privileged, --cap-add/--cap-drop, and
// that nothing of the caller (fds, host directories through /proc/self/fd) reaches a container.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "container_support.hpp"
#include "gctool/core/file_util.hpp"

using gctool::test::RunResult;
using gctool::test::status_fields;
using gctool::test::TempDir;
using gctool::test::TestRoot;

namespace {

std::map<std::string, std::string> container_status(const TestRoot& root,
                                                    std::vector<std::string> flags) {
  std::vector<std::string> args{"run", "--rm"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"busybox", "cat", "/proc/self/status"});
  const auto r = root.run(args);
  REQUIRE(r.exit_code == 0);
  return status_fields(r.out);
}

constexpr const char* kDockerDefaultCaps = "00000000a80425fb";

// Lines of stderr that are not gctool's notices about the host (e.g. a capability missing
// from its bounding set).
std::string errors_without_notices(const std::string& err) {
  std::istringstream in(err);
  std::string line;
  std::string kept;
  while (std::getline(in, line)) {
    if (line.find("bounding set") == std::string::npos) {
      kept += line + "\n";
    }
  }
  return kept;
}

// A static program that makes raw system calls and prints "name: errno" (0 on success) for each:
// the newest calls, numbers no kernel has, and calls the default profile filters by argument.
constexpr const char* kSyscallProbe = R"(#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char* name, long rc) { printf("%s: %d\n", name, rc < 0 ? errno : 0); }

int main(void) {
  /* open_tree_attr (Linux 6.15) with no flags opens "/" as O_PATH: no privilege needed. */
  report("open_tree_attr", syscall(467, AT_FDCWD, "/", 0, 0, 0));
  report("file_getattr", syscall(468, -1, 0, 0, 0, 0));
  report("file_setattr", syscall(469, -1, 0, 0, 0, 0));
  report("nr_470", syscall(470, 0, 0, 0, 0, 0));
  report("nr_1000", syscall(1000, 0, 0, 0, 0, 0));
  report("clone3", syscall(435, 0, 0));
  report("personality_norandom", syscall(SYS_personality, 0x0040000));
  report("personality_query", syscall(SYS_personality, 0xffffffffUL));
  report("socket_vsock", syscall(SYS_socket, 40, 1, 0));
  report("getpid", syscall(SYS_getpid));
  return 0;
}
)";

// Compiles kSyscallProbe with gcc -static into dir/probe.
void build_syscall_probe(const TempDir& dir) {
  const auto source = dir.path() / "probe.c";
  std::ofstream(source) << kSyscallProbe;
  const auto r = gctool::test::run_program(
      {"gcc", "-static", "-O1", "-o", (dir.path() / "probe").string(), source.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// The probe's findings in a container run with `flags`.
std::map<std::string, std::string> probe_container(const TestRoot& root, const TempDir& dir,
                                                   std::vector<std::string> flags) {
  std::vector<std::string> args{"run", "--rm", "--network", "none", "-v", dir.str() + ":/probe:ro"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"busybox", "/probe/probe"});
  const auto r = root.run(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return status_fields(r.out);
}

}  // namespace

TEST_CASE("run applies Docker's default security settings", "[root]") {
  TestRoot root;
  const auto status = container_status(root, {});
  CHECK(status.at("CapEff") == kDockerDefaultCaps);
  CHECK(status.at("CapPrm") == kDockerDefaultCaps);
  CHECK(status.at("CapBnd") == kDockerDefaultCaps);
  CHECK(status.at("CapInh") == "0000000000000000");
  CHECK(status.at("CapAmb") == "0000000000000000");
  CHECK(status.at("NoNewPrivs") == "1");
  CHECK(status.at("Seccomp") == "2");
  CHECK(root.leaks().empty());
}

TEST_CASE("a default container cannot mount, unshare or write protected /proc files", "[root]") {
  TestRoot root;
  const auto sh = [&](const std::string& script) {
    return root.run({"run", "--rm", "busybox", "sh", "-c", script});
  };
  SECTION("mount") {
    CHECK(sh("mount -t tmpfs x /mnt").exit_code != 0);
  }
  SECTION("unshare") {
    CHECK(sh("unshare -m true").exit_code != 0);
  }
  SECTION("umount of a masked path") {
    CHECK(sh("umount /proc/kcore || umount /proc/timer_list").exit_code != 0);
  }
  SECTION("masked files read empty") {
    const auto r =
        sh("for f in /proc/kcore /proc/timer_list /proc/keys; do "
           "[ -e $f ] && cat $f; done; true");
    CHECK(r.exit_code == 0);
    CHECK(r.out == "");
  }
  SECTION("sysrq-trigger is read-only") {
    CHECK(sh("echo h > /proc/sysrq-trigger").exit_code != 0);
  }
  SECTION("/proc/sys is read-only") {
    CHECK(sh("echo 1 > /proc/sys/kernel/domainname").exit_code != 0);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("flag --privileged gives every capability and no seccomp filter", "[root]") {
  TestRoot root;
  const auto status = container_status(root, {"--privileged"});
  const auto host = status_fields(gctool::test::run_program({"cat", "/proc/self/status"}).out);
  CHECK(status.at("CapEff") == host.at("CapBnd"));
  CHECK(status.at("CapBnd") == host.at("CapBnd"));
  CHECK(status.at("Seccomp") == "0");
  const auto r = root.run({"run", "--rm", "--privileged", "busybox", "sh", "-c",
                           "mount -t tmpfs x /mnt && umount /mnt"});
  CHECK(r.exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("flag --cap-drop and --cap-add change the capability sets", "[root]") {
  TestRoot root;
  SECTION("--cap-drop ALL") {
    const auto status = container_status(root, {"--cap-drop", "ALL"});
    CHECK(status.at("CapEff") == "0000000000000000");
    CHECK(status.at("CapBnd") == "0000000000000000");
    CHECK(status.at("NoNewPrivs") == "1");
  }
  SECTION("--cap-drop CHOWN") {
    const auto status = container_status(root, {"--cap-drop", "CHOWN"});
    CHECK(status.at("CapEff") == "00000000a80425fa");
  }
  SECTION("--cap-add SYS_ADMIN lets the container mount") {
    const auto r =
        root.run({"run", "--rm", "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
                  "busybox", "sh", "-c", "mount -t tmpfs x /mnt && umount /mnt"});
    CHECK(r.exit_code == 0);
  }
  SECTION("an unknown capability is one line and exit 125, nothing created") {
    const auto r = root.run({"run", "--rm", "--cap-add", "FOO", "busybox", "true"});
    CHECK(r.exit_code == 125);
    CHECK(r.out == "");
    const auto err = errors_without_notices(r.err);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    CHECK(err.find("FOO") != std::string::npos);
  }
  SECTION("an unknown --security-opt is exit 125") {
    const auto r = root.run({"run", "--rm", "--security-opt", "bogus", "busybox", "true"});
    CHECK(r.exit_code == 125);
    const auto err = errors_without_notices(r.err);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("flag --security-opt no-new-privileges=false and seccomp=unconfined", "[root]") {
  TestRoot root;
  const auto status = container_status(
      root, {"--security-opt", "no-new-privileges=false", "--security-opt", "seccomp=unconfined"});
  CHECK(status.at("NoNewPrivs") == "0");
  CHECK(status.at("Seccomp") == "0");
  CHECK(status.at("CapEff") == kDockerDefaultCaps);
  CHECK(root.leaks().empty());
}

TEST_CASE("a non-root user runs with no effective capabilities", "[root]") {
  TestRoot root;
  const auto r = root.run(
      {"run", "--rm", "-u", "65534", "busybox", "sh", "-c", "id -u; cat /proc/self/status"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.substr(0, 6) == "65534\n");
  const auto status = status_fields(r.out);
  CHECK(status.at("CapEff") == "0000000000000000");
  CHECK(status.at("CapBnd") == kDockerDefaultCaps);
  CHECK(status.at("NoNewPrivs") == "1");
  CHECK(status.at("Seccomp") == "2");
  CHECK(root.leaks().empty());
}

TEST_CASE("security flags are stored in HostConfig", "[root]") {
  TestRoot root;
  const auto r = root.run({"run", "--name", "sec", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
                           "--security-opt", "no-new-privileges", "busybox", "true"});
  REQUIRE(r.exit_code == 0);
  const auto info = root.inspect("sec");
  REQUIRE(!info.is_null());
  const auto& host = info["HostConfig"];
  CHECK(host["CapAdd"] == nlohmann::json::array({"NET_ADMIN"}));
  CHECK(host["CapDrop"] == nlohmann::json::array({"CHOWN"}));
  CHECK(host["Privileged"] == false);
  CHECK(host["SecurityOpt"] == nlohmann::json::array({"no-new-privileges"}));
  CHECK(root.run({"rm", "sec"}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("an fd of the caller of gctool run is not visible in the container", "[root]") {
  TestRoot root;
  // Not close-on-exec: gctool inherits it.
  const int fd = ::open("/", O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  const auto r = root.run({"run", "--rm", "busybox", "ls", "/proc/self/fd"});
  ::close(fd);
  CHECK(r.exit_code == 0);
  // 0, 1, 2 and the directory ls reads.
  CHECK(r.out == "0\n1\n2\n3\n");
  CHECK(root.leaks().empty());
}

TEST_CASE("flag -w /proc/self/fd/N never starts a container", "[root]") {
  TestRoot root;
  // A host directory open in the caller, so an fd of the init could lead out of the root.
  const int fd = ::open("/", O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  for (int n = 3; n <= 20; ++n) {
    CAPTURE(n);
    const auto path = "/proc/self/fd/" + std::to_string(n);
    const auto r = root.run({"run", "--rm", "-w", path, "busybox", "sh", "-c", "pwd; ls .."});
    CHECK(r.exit_code != 0);
    CHECK(r.out == "");
  }
  ::close(fd);
  CHECK(root.leaks().empty());
}

TEST_CASE("the default seccomp profile is an allow-list", "[root]") {
  TestRoot root;
  TempDir dir("gct-probe");
  build_syscall_probe(dir);
  const auto host = status_fields(gctool::test::run_program({(dir.path() / "probe").string()}).out);
  const auto found = probe_container(root, dir, {});
  const auto eperm = std::to_string(EPERM);
  // What no rule names is refused, however new: open_tree_attr works on the host (6.15+).
  for (const auto* name : {"open_tree_attr", "file_getattr", "file_setattr", "nr_470", "nr_1000"}) {
    CAPTURE(name, host.at(name));
    CHECK(found.at(name) == eperm);
  }
  CHECK(found.at("clone3") == std::to_string(ENOSYS));  // so that libc falls back to clone
  CHECK(host.at("personality_norandom") == "0");
  CHECK(found.at("personality_norandom") == eperm);
  CHECK(found.at("personality_query") == "0");
  CHECK(found.at("socket_vsock") == eperm);
  CHECK(found.at("getpid") == "0");

  SECTION("--security-opt seccomp=unconfined gives the host's answers") {
    const auto unconfined = probe_container(root, dir, {"--security-opt", "seccomp=unconfined"});
    for (const auto* name : {"open_tree_attr", "file_getattr", "nr_470", "nr_1000", "clone3",
                             "personality_norandom"}) {
      CAPTURE(name);
      CHECK(unconfined.at(name) == host.at(name));
    }
    CHECK(unconfined.at("open_tree_attr") != eperm);
  }
  CHECK(root.leaks().empty());
}

namespace {

// Makes fuse (10:229) and kmsg (1:11) nodes in the container's /dev and opens them for reading
// and writing without writing anything; uses /dev/null, /dev/zero and /dev/tty as programs do.
constexpr const char* kDeviceProbe =
    "mknod /dev/x c 10 229 || echo mknod-fuse-failed; "
    "mknod /dev/k c 1 11 || echo mknod-kmsg-failed; "
    "( : <>/dev/x ) 2>&1; ( : >/dev/k ) 2>&1; "
    "echo x >/dev/null && echo null-ok; head -c 3 /dev/zero | wc -c; ( : </dev/tty ) 2>&1; true";

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a default container can make device nodes but not open the host's devices", "[root]") {
  TestRoot root;
  const auto r = root.run({"run", "--rm", "busybox", "sh", "-c", kDeviceProbe});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("mknod") == std::string::npos);
  CHECK(r.out.find("can't create /dev/x: Operation not permitted") != std::string::npos);
  CHECK(r.out.find("can't create /dev/k: Operation not permitted") != std::string::npos);
  CHECK(count_of(r.out, "Operation not permitted") == 2);
  CHECK(r.out.find("null-ok\n3\n") != std::string::npos);
  CHECK(root.leaks().empty());
}

TEST_CASE("flag --privileged opens every device, --device adds one", "[root]") {
  TestRoot root;
  SECTION("--privileged") {
    const auto r = root.run({"run", "--rm", "--privileged", "busybox", "sh", "-c", kDeviceProbe});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("mknod") == std::string::npos);
    CHECK(r.out.find("Operation not permitted") == std::string::npos);
    CHECK(r.out.find("null-ok\n3\n") != std::string::npos);
  }
  SECTION("--device with the host's path, and another renamed and read-only") {
    REQUIRE(std::filesystem::exists("/dev/fuse"));
    REQUIRE(std::filesystem::exists("/dev/loop-control"));
    const auto r = root.run({"run", "--name", "dev", "--device", "/dev/fuse", "--device",
                             "/dev/loop-control:/dev/sub/lc:r", "busybox", "sh", "-c",
                             "( : <>/dev/fuse ) && echo rw-ok; ( : </dev/sub/lc ) && echo r-ok; "
                             "( : <>/dev/sub/lc ) 2>&1; stat -c '%t:%T %a' /dev/fuse"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out ==
          "rw-ok\nr-ok\nsh: can't create /dev/sub/lc: Operation not permitted\na:e5 600\n");
    const auto info = root.inspect("dev");
    REQUIRE(!info.is_null());
    CHECK(info["HostConfig"]["Devices"][1] == nlohmann::json{{"PathOnHost", "/dev/loop-control"},
                                                             {"PathInContainer", "/dev/sub/lc"},
                                                             {"CgroupPermissions", "r"}});
    CHECK(root.run({"rm", "dev"}).exit_code == 0);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("the calls of CAP_SYS_ADMIN are allowed with --cap-add SYS_ADMIN", "[root]") {
  TestRoot root;
  const auto sh = [&](std::vector<std::string> flags, const std::string& script) {
    std::vector<std::string> args{"run", "--rm", "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"busybox", "sh", "-c", script});
    return root.run(args);
  };
  const std::string mount = "mount -t tmpfs x /mnt && umount /mnt";
  const std::string unshare = "unshare -m -u sh -c 'hostname inner && hostname'";
  CHECK(sh({}, mount).exit_code != 0);
  CHECK(sh({}, unshare).exit_code != 0);
  CHECK(sh({"--cap-add", "SYS_ADMIN"}, mount).exit_code == 0);
  const auto r = sh({"--cap-add", "SYS_ADMIN"}, unshare);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "inner\n");
  CHECK(root.leaks().empty());
}

TEST_CASE("ordinary programs run under the default seccomp profile", "[root]") {
  TestRoot root;
  // A shell, files, processes, signals, time, ICMP (CAP_NET_RAW) and TCP over loopback.
  const auto r =
      root.run({"run", "--rm", "--network", "none", "busybox", "sh", "-c",
                "set -e; ls / > /dev/null; mkdir -p /tmp/www; echo served > /tmp/www/index.html; "
                "cp /tmp/www/index.html /tmp/copy; chmod 600 /tmp/copy; ln -s copy /tmp/link; "
                "cat /tmp/link; sleep 0.1; date > /dev/null; ps > /dev/null; "
                "ping -c 1 -W 2 127.0.0.1 > /dev/null && echo ping; "
                "httpd -p 127.0.0.1:8080 -h /tmp/www; "
                "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://127.0.0.1:8080/ && break; "
                "sleep 0.2; done; "
                "sleep 30 & kill $!; wait $! || echo killed"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "served\nping\nserved\nkilled\n");
  CHECK(root.leaks().empty());
}

TEST_CASE("a /dev/null that leads to a host file never becomes a masked path", "[root]") {
  // CVE-2025-31133: the masks were bind mounts of whatever /dev/null resolved to. The target is
  // a file of the test's own, standing in for a host sysctl such as core_pattern.
  TestRoot root;
  gctool::test::TempDir dev("fake-dev");
  gctool::test::TempDir host("fake-sysctl");
  gctool::write_file(host.path() / "core_pattern", "original\n");
  std::filesystem::create_symlink("/target/core_pattern", dev.path() / "null");
  const auto r = root.run({"run", "--rm", "-v", dev.str() + ":/dev", "-v", host.str() + ":/target",
                           "busybox", "sh", "-c", "echo pwned > /proc/keys; cat /proc/keys"});
  INFO(r.out << r.err);
  CHECK(r.out.find("pwned") == std::string::npos);
  CHECK(gctool::read_file(host.path() / "core_pattern") == "original\n");
  CHECK(root.leaks().empty());
}
