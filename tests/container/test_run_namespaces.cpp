// The `run` flags about what a container shares and how its pid 1 behaves: --init, --sysctl,
// --hostname/--domainname, --group-add, --pid host|container:NAME, --uts host, --ipc
// host|shareable|container:NAME, and /sys/fs/cgroup, as a user sees them from inside the container.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "container_support.hpp"
#include "gctool/cgroup/layout.hpp"

using gctool::test::check_refused;
using gctool::test::read_whole_file;
using gctool::test::TestRoot;
using gctool::test::unique_name;
using gctool::test::wait_running;

namespace {

// The zombies in the container, as exec sees them: one "/proc/PID/status" line each.
std::string zombies(const TestRoot& root, const std::string& name) {
  return root.run({"exec", name, "sh", "-c", "grep -l '^State:.*Z' /proc/[0-9]*/status || true"})
      .out;
}

std::string own_namespace(const char* kind) {
  return std::filesystem::read_symlink(std::string("/proc/self/ns/") + kind).string() + "\n";
}

}  // namespace

TEST_CASE("run --init runs gctool-init as pid 1: exit code, reaping, signals", "[root]") {
  TestRoot root;
  const auto comm = root.run({"run", "--rm", "--init", "busybox", "cat", "/proc/1/comm"});
  INFO(comm.err);
  CHECK(comm.exit_code == 0);
  CHECK(comm.out == "gctool-init\n");
  // The command is pid 1's child, its exit code the container's.
  CHECK(root.run({"run", "--rm", "--init", "busybox", "sh", "-c", "echo $PPID; exit 3"}).out ==
        "1\n");
  CHECK(root.run({"run", "--rm", "--init", "busybox", "sh", "-c", "exit 3"}).exit_code == 3);
  const auto missing = root.run({"run", "--rm", "--init", "busybox", "nosuchcommand"});
  CHECK(missing.exit_code == 127);
  CHECK_THAT(missing.err, Catch::Contains("nosuchcommand"));

  // An orphan whose parent never waits: a zombie under `sleep` as pid 1, reaped by the init.
  const std::string orphan = "(sleep 0.1 &); exec sleep 100";
  const auto plain = unique_name("noinit");
  const auto with_init = unique_name("init");
  REQUIRE(
      root.run({"run", "-d", "--name", plain, "--network", "none", "busybox", "sh", "-c", orphan})
          .exit_code == 0);
  REQUIRE(root.run({"run", "-d", "--name", with_init, "--network", "none", "--init", "busybox",
                    "sh", "-c", orphan})
              .exit_code == 0);
  REQUIRE(!wait_running(root, plain).is_null());
  REQUIRE(!wait_running(root, with_init).is_null());
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  CHECK(zombies(root, plain) != "");
  CHECK(zombies(root, with_init) == "");
  CHECK(root.inspect(with_init)["HostConfig"]["Init"] == true);
  CHECK(root.inspect(plain)["HostConfig"]["Init"].is_null());

  // SIGTERM reaches `sleep` through the init: stop does not wait for its timeout.
  const auto start = std::chrono::steady_clock::now();
  CHECK(root.run({"stop", "-t", "20", with_init}).exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(root.inspect(with_init)["State"]["ExitCode"] == 143);
  CHECK(root.run({"rm", "-f", plain, with_init}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run --sysctl sets namespaced settings inside the container only", "[root]") {
  TestRoot root;
  const auto host_shmmni = read_whole_file("/proc/sys/kernel/shmmni");
  const auto r =
      root.run({"run", "--rm", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--sysctl",
                "kernel.shmmni=1000", "--network", "none", "busybox", "cat",
                "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/shmmni"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "80\n1000\n");
  CHECK(read_whole_file("/proc/sys/kernel/shmmni") == host_shmmni);
  const auto name = unique_name("sysctl");
  REQUIRE(root.run({"create", "--name", name, "--sysctl", "kernel.shmmni=900", "busybox", "true"})
              .exit_code == 0);
  CHECK(root.inspect(name)["HostConfig"]["Sysctls"] == nlohmann::json{{"kernel.shmmni", "900"}});
  CHECK(root.run({"rm", name}).exit_code == 0);
  for (const auto* bad :
       {"kernel.hostname=x", "vm.swappiness=1", "net.ipv4.ip_forward", "=1", "net../../x=1"}) {
    check_refused(root, {"--sysctl", bad});
  }
  check_refused(root, {"--network", "host", "--sysctl", "net.ipv4.ip_forward=1"});
  check_refused(root, {"--ipc", "host", "--sysctl", "kernel.shmmni=1000"});
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --group-add adds supplementary groups, also for exec", "[root]") {
  TestRoot root;
  const auto r = root.run({"run", "--rm", "-u", "nobody", "--group-add", "1234", "--group-add",
                           "root", "busybox", "grep", "^Groups:", "/proc/self/status"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "Groups:\t0 1234 \n");
  const auto name = unique_name("groups");
  REQUIRE(root.run({"run", "-d", "--name", name, "--network", "none", "--group-add", "nogroup",
                    "busybox", "sleep", "100"})
              .exit_code == 0);
  REQUIRE(!wait_running(root, name).is_null());
  CHECK(root.run({"exec", name, "grep", "^Groups:", "/proc/self/status"}).out ==
        "Groups:\t65534 \n");
  CHECK(root.inspect(name)["HostConfig"]["GroupAdd"] == nlohmann::json{"nogroup"});
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  const auto missing = root.run({"run", "--rm", "--group-add", "nosuchgroup", "busybox", "true"});
  CHECK(missing.exit_code == 125);
  CHECK_THAT(missing.err, Catch::Contains("unable to find group nosuchgroup"));
  check_refused(root, {"--group-add", "a:b"});
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --pid host and --uts host share the host's namespaces", "[root]") {
  TestRoot root;
  // The container's own pid namespace: the shell is pid 1; the host's: this test is visible.
  CHECK(root.run({"run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo $$"}).out ==
        "1\n");
  const auto self = std::to_string(::getpid());
  const auto host_pid = root.run({"run", "--rm", "--network", "none", "--pid", "host", "busybox",
                                  "sh", "-c", "echo $$; test -d /proc/" + self + " && echo seen"});
  INFO(host_pid.err);
  CHECK(host_pid.exit_code == 0);
  CHECK(host_pid.out != "1\nseen\n");
  CHECK(host_pid.out.ends_with("\nseen\n"));
  CHECK(root.run({"run", "--rm", "--network", "none", "--pid", "host", "busybox", "readlink",
                  "/proc/self/ns/pid"})
            .out == own_namespace("pid"));

  char host_name[256] = {};
  REQUIRE(::gethostname(host_name, sizeof host_name - 1) == 0);
  const auto uts = root.run({"run", "--rm", "--network", "none", "--uts", "host", "busybox", "sh",
                             "-c", "hostname; readlink /proc/self/ns/uts"});
  INFO(uts.err);
  CHECK(uts.out == std::string(host_name) + "\n" + own_namespace("uts"));
  const auto name = unique_name("uts");
  REQUIRE(root.run({"create", "--name", name, "--uts", "host", "--pid", "host", "busybox", "true"})
              .exit_code == 0);
  const auto info = root.inspect(name);
  CHECK(info["Config"]["Hostname"] == host_name);
  CHECK(info["HostConfig"]["UTSMode"] == "host");
  CHECK(info["HostConfig"]["PidMode"] == "host");
  CHECK(root.run({"rm", name}).exit_code == 0);
  check_refused(root, {"--uts", "host", "-h", "other"});
  check_refused(root, {"--pid", "container:x"});
  check_refused(root, {"--pid", "private"});
  check_refused(root, {"--uts", "private"});
  CHECK(root.leaks().empty());
}

TEST_CASE("with --pid host, what pid 1 leaves running is killed when it exits", "[root]") {
  TestRoot root;
  // Without a pid namespace of its own, the kernel does not end the rest with pid 1: the
  // cgroup is still busy and gctool kills what is in it before removing it.
  const auto r = root.run({"run", "--rm", "--network", "none", "--pid", "host", "busybox", "sh",
                           "-c", "sleep 60 >/dev/null 2>&1 & echo $!"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto left = "/proc/" + r.out.substr(0, r.out.find('\n'));
  // Reaped by its parent (init on the host) soon after the kill.
  for (int i = 0; i < 100 && std::filesystem::exists(left); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_FALSE(std::filesystem::exists(left));
  CHECK(root.leaks().empty());
}

TEST_CASE("run --hostname and --domainname name the container as Docker does", "[root]") {
  TestRoot root;
  const auto web = unique_name("web");
  const auto named = root.run({"run", "--rm", "--network", "none", "--name", web, "-h", "web",
                               "--domainname", "example.com", "busybox", "sh", "-c",
                               "hostname; cat /proc/sys/kernel/domainname; grep web /etc/hosts"});
  INFO(named.err);
  CHECK(named.exit_code == 0);
  CHECK(named.out == "web\nexample.com\n127.0.1.1\tweb.example.com web " + web + "\n");
  // A dotted hostname alone gives the same two names, and no domain name is set.
  const auto db = unique_name("db");
  const auto dotted =
      root.run({"run", "--rm", "--network", "none", "--name", db, "-h", "db.example.org", "busybox",
                "sh", "-c", "cat /proc/sys/kernel/domainname; grep db /etc/hosts"});
  CHECK(dotted.out == "(none)\n127.0.1.1\tdb.example.org db " + db + "\n");
  const auto name = unique_name("dom");
  REQUIRE(root.run({"create", "--name", name, "--domainname", "corp.test", "busybox", "true"})
              .exit_code == 0);
  CHECK(root.inspect(name)["Config"]["Domainname"] == "corp.test");
  CHECK(root.run({"rm", name}).exit_code == 0);
  check_refused(root, {"--domainname", "a b"});
  check_refused(root, {"--uts", "host", "--domainname", "example.com"});
  CHECK(root.leaks().empty());
}

TEST_CASE("run --ipc host, shareable and container:NAME share IPC and /dev/shm", "[root]") {
  TestRoot root;
  const auto own =
      root.run({"run", "--rm", "--network", "none", "busybox", "readlink", "/proc/self/ns/ipc"});
  CHECK(own.exit_code == 0);
  CHECK(own.out != own_namespace("ipc"));
  const auto host = root.run({"run", "--rm", "--network", "none", "--ipc", "host", "busybox",
                              "readlink", "/proc/self/ns/ipc"});
  INFO(host.err);
  CHECK(host.out == own_namespace("ipc"));
  // The host's /dev/shm, as Docker binds it.
  const auto marker = unique_name("gct-shm");
  const auto wrote = root.run({"run", "--rm", "--network", "none", "--ipc", "host", "busybox", "sh",
                               "-c", "echo hi > /dev/shm/" + marker});
  CHECK(wrote.exit_code == 0);
  CHECK(read_whole_file("/dev/shm/" + marker) == "hi\n");
  std::filesystem::remove("/dev/shm/" + marker);

  const auto donor = unique_name("donor");
  const auto private_one = unique_name("private");
  REQUIRE(root.run({"run", "-d", "--name", donor, "--network", "none", "--ipc", "shareable",
                    "--shm-size", "8m", "busybox", "sh", "-c",
                    "echo shared > /dev/shm/x; exec sleep 100"})
              .exit_code == 0);
  REQUIRE(
      root.run({"run", "-d", "--name", private_one, "--network", "none", "busybox", "sleep", "100"})
          .exit_code == 0);
  const auto donor_info = wait_running(root, donor);
  REQUIRE(!donor_info.is_null());
  REQUIRE(!wait_running(root, private_one).is_null());
  // The donor's /dev/shm is a tmpfs on the host side, under its directory, while it runs.
  const auto shm = std::filesystem::path(root.root()) / "containers" /
                   donor_info["Id"].get<std::string>() / "shm";
  CHECK(read_whole_file(shm / "x") == "shared\n");
  // A container joining it sees the donor's namespace and files, and the donor sees its writes.
  const auto donor_ns = root.run({"exec", donor, "readlink", "/proc/self/ns/ipc"}).out;
  const auto joined = root.run({"run", "--rm", "--network", "none", "--ipc", "container:" + donor,
                                "busybox", "sh", "-c",
                                "readlink /proc/self/ns/ipc; cat /dev/shm/x; echo back > "
                                "/dev/shm/y; df -k /dev/shm | tail -n 1"});
  INFO(joined.err);
  CHECK(joined.exit_code == 0);
  CHECK(joined.out.starts_with(donor_ns + "shared\n"));
  CHECK_THAT(joined.out, Catch::Contains(" 8192 "));
  CHECK(root.run({"exec", donor, "cat", "/dev/shm/y"}).out == "back\n");
  const auto joiner = unique_name("joiner");
  REQUIRE(root.run({"create", "--name", joiner, "--ipc", "container:" + donor, "busybox", "true"})
              .exit_code == 0);
  CHECK(root.inspect(joiner)["HostConfig"]["IpcMode"] == "container:" + donor);
  CHECK(root.inspect(donor)["HostConfig"]["IpcMode"] == "shareable");
  CHECK(root.inspect(private_one)["HostConfig"]["IpcMode"] == "private");
  CHECK(root.run({"rm", joiner}).exit_code == 0);
  check_refused(root, {"--ipc", "container:" + private_one});
  check_refused(root, {"--ipc", "container:nosuch"});
  check_refused(root, {"--ipc", "bogus"});
  check_refused(root, {"--ipc", "host", "--shm-size", "8m"});
  // Stopped, its /dev/shm goes; it cannot be joined.
  CHECK(root.run({"stop", "-t", "0", donor}).exit_code == 0);
  CHECK(!std::filesystem::exists(shm / "x"));
  check_refused(root, {"--ipc", "container:" + donor});
  CHECK(root.run({"start", donor}).exit_code == 0);
  REQUIRE(!wait_running(root, donor).is_null());
  CHECK(root.run({"run", "--rm", "--network", "none", "--ipc", "container:" + donor, "busybox",
                  "cat", "/dev/shm/x"})
            .out == "shared\n");
  CHECK(root.run({"rm", "-f", donor, private_one}).exit_code == 0);
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run --pid container:NAME joins the other container's processes", "[root]") {
  TestRoot root;
  const auto donor = unique_name("piddonor");
  REQUIRE(root.run({"run", "-d", "--name", donor, "--network", "none", "busybox", "sleep", "100"})
              .exit_code == 0);
  REQUIRE(!wait_running(root, donor).is_null());
  const auto donor_ns = root.run({"exec", donor, "readlink", "/proc/self/ns/pid"}).out;
  const auto joined =
      root.run({"run", "--rm", "--network", "none", "--pid", "container:" + donor, "busybox", "sh",
                "-c", "readlink /proc/self/ns/pid; cat /proc/1/comm; echo $$"});
  INFO(joined.err);
  CHECK(joined.exit_code == 0);
  CHECK(joined.out.starts_with(donor_ns + "sleep\n"));
  CHECK(joined.out != donor_ns + "sleep\n1\n");
  const auto joiner = unique_name("pidjoiner");
  REQUIRE(root.run({"run", "-d", "--name", joiner, "--network", "none", "--pid",
                    "container:" + donor, "busybox", "sleep", "100"})
              .exit_code == 0);
  REQUIRE(!wait_running(root, joiner).is_null());
  CHECK(root.inspect(joiner)["HostConfig"]["PidMode"] == "container:" + donor);
  // Each sees the other's processes.
  CHECK(root.run({"exec", donor, "sh", "-c", "cat /proc/[0-9]*/comm | grep -c sleep"}).out ==
        "2\n");
  CHECK(root.run({"exec", joiner, "readlink", "/proc/self/ns/pid"}).out == donor_ns);
  CHECK(root.run({"rm", "-f", joiner}).exit_code == 0);
  check_refused(root, {"--pid", "container:nosuch"});
  CHECK(root.run({"stop", "-t", "0", donor}).exit_code == 0);
  check_refused(root, {"--pid", "container:" + donor});
  CHECK(root.run({"rm", "-f", donor}).exit_code == 0);
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("/sys/fs/cgroup shows the container's own cgroup, read-only", "[root]") {
  TestRoot root;
  const bool v1 = gctool::cgroup::host_layout().mode != gctool::cgroup::CgroupMode::unified;
  const std::string limit_file =
      v1 ? "/sys/fs/cgroup/memory/memory.limit_in_bytes" : "/sys/fs/cgroup/memory.max";
  const std::string dir = v1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup";
  const auto r = root.run({"run", "--rm", "--network", "none", "-m", "64m", "busybox", "sh", "-c",
                           "cat " + limit_file + "; (echo 1 > " + limit_file + " || touch " + dir +
                               "/x) 2>/dev/null || echo read-only; grep -c ':/$' " +
                               "/proc/self/cgroup; grep -c ':/.' /proc/self/cgroup; true"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  // Every cgroup is the namespace's root: "/", never a host path.
  std::vector<std::string> lines;
  for (std::size_t start = 0, end; (end = r.out.find('\n', start)) != std::string::npos;
       start = end + 1) {
    lines.push_back(r.out.substr(start, end - start));
  }
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "67108864");
  CHECK(lines[1] == "read-only");
  CHECK(lines[2] != "0");
  CHECK(lines[3] == "0");
  // An exec'd process sees the same.
  const auto name = unique_name("cgns");
  REQUIRE(root.run({"run", "-d", "--name", name, "--network", "none", "-m", "32m", "busybox",
                    "sleep", "100"})
              .exit_code == 0);
  REQUIRE(!wait_running(root, name).is_null());
  CHECK(root.run({"exec", name, "cat", limit_file}).out == "33554432\n");
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run --network container:NAME shares the other container's network", "[root]") {
  TestRoot root;
  const auto donor = unique_name("netdonor");
  REQUIRE(root.run({"run", "-d", "--name", donor, "busybox", "sh", "-c",
                    "echo served > /tmp/page; exec httpd -f -p 8080 -h /tmp"})
              .exit_code == 0);
  const auto info = wait_running(root, donor);
  REQUIRE(!info.is_null());
  const auto donor_ns = root.run({"exec", donor, "readlink", "/proc/self/ns/net"}).out;
  const auto donor_hosts = root.run({"exec", donor, "cat", "/etc/hosts"}).out;
  // Its loopback is ours: the donor's server answers on 127.0.0.1.
  const auto joined =
      root.run({"run", "--rm", "--network", "container:" + donor, "busybox", "sh", "-c",
                "readlink /proc/self/ns/net; hostname; wget -q -O - http://127.0.0.1:8080/page"});
  INFO(joined.err);
  CHECK(joined.exit_code == 0);
  CHECK(joined.out == donor_ns + info["Config"]["Hostname"].get<std::string>() + "\nserved\n");
  CHECK(root.run({"run", "--rm", "--network", "container:" + donor, "busybox", "cat", "/etc/hosts"})
            .out == donor_hosts);
  check_refused(root, {"--network", "container:" + donor, "-p", "80:80"});
  check_refused(root, {"--network", "container:" + donor, "-h", "other"});
  check_refused(root, {"--network", "container:" + donor, "--sysctl", "net.core.somaxconn=10"});
  check_refused(root, {"--network", "container:nosuch"});
  CHECK(root.run({"rm", "-f", donor}).exit_code == 0);
  check_refused(root, {"--network", "container:" + donor});
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.leaks().empty());
}
