// Every kind of bad input to `gctool run`, one table row each: refused with one line naming the
// problem and exit 125, before anything exists: no container state, mount, cgroup, link, nft
// rule or process is left. The runs happen in a network namespace of the test's own, so its
// links and nft tables are the runs' alone.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "container_support.hpp"
#include "net_support.hpp"

namespace fs = std::filesystem;
using gctool::test::directory_entries;
using gctool::test::TempDir;
using gctool::test::TestRoot;

namespace {

struct Row {
  std::vector<std::string> args;  // after `run`; {files} is a directory of the test's files
  std::string message;            // a fragment of the error line
};

const std::vector<Row> kRows = {
    // Memory.
    {{"-m", "lots", "busybox", "true"}, "invalid memory size \"lots\""},
    {{"-m", "-1", "busybox", "true"}, "must not be negative"},
    {{"-m", "0.5k", "busybox", "true"}, "minimum memory limit allowed is 6MB"},
    {{"-m", "1", "busybox", "true"}, "minimum memory limit allowed is 6MB"},
    {{"-m", "99999999999999999999", "busybox", "true"}, "too large"},
    {{"-m", "10x", "busybox", "true"}, "invalid memory size \"10x\""},
    // CPUs.
    {{"--cpus", "-1", "busybox", "true"}, "must be greater than 0"},
    {{"--cpus", "0", "busybox", "true"}, "must be greater than 0"},
    {{"--cpus", "100000", "busybox", "true"}, "range of CPUs is from 0.01"},
    {{"--cpus", "0.001", "busybox", "true"}, "range of CPUs is from 0.01"},
    {{"--cpus", "two", "busybox", "true"}, "not a decimal number"},
    {{"--cpu-shares", "1", "busybox", "true"}, "CPU shares 1 out of range"},
    {{"--cpuset-cpus", "99-1", "busybox", "true"}, "range \"99-1\" is reversed"},
    {{"--cpuset-cpus", "a", "busybox", "true"}, "\"a\" is not a CPU number"},
    {{"--cpuset-cpus", "4000", "busybox", "true"}, "requested CPUs are not available"},
    {{"--cpuset-cpus", "0,", "busybox", "true"}, "trailing comma"},
    // Swap, reservation, CFS period and quota, blkio weight, in Docker's words.
    {{"--memory-swap", "128m", "busybox", "true"},
     "set the memory limit when using the memoryswap"},
    {{"-m", "64m", "--memory-swap", "32m", "busybox", "true"}, "larger than memory limit"},
    {{"--memory-reservation", "1k", "busybox", "true"},
     "minimum memory reservation allowed is 6MB"},
    {{"-m", "32m", "--memory-reservation", "64m", "busybox", "true"},
     "can not be less than memory reservation"},
    {{"--cpu-period", "10", "busybox", "true"}, "CPU cfs period can not be less than 1ms"},
    {{"--cpu-quota", "10", "busybox", "true"}, "CPU cfs quota can not be less than 1ms"},
    {{"--cpus", "1", "--cpu-quota", "50000", "busybox", "true"},
     "Nano CPUs and CPU Quota cannot both be set"},
    {{"--blkio-weight", "5", "busybox", "true"}, "range of blkio weight is from 10 to 1000"},
    // Pids.
    {{"--pids-limit", "lots", "busybox", "true"}, "--pids-limit"},
    // Names.
    {{"--name", "bad name", "busybox", "true"}, "invalid container name \"bad name\""},
    {{"--name=-x", "busybox", "true"}, "invalid container name \"-x\""},
    {{"--name", "taken", "busybox", "true"}, "the container name \"/taken\" is already in use"},
    {{"-h", std::string(65, 'h'), "busybox", "true"}, "longer than 64 characters"},
    // Control characters would add lines to /etc/hosts and /etc/hostname, or to a listing; the
    // error line quotes them escaped.
    {{"-h", "web\n10.9.9.9 evil", "busybox", "true"}, "invalid hostname \"web\\n10.9.9.9 evil\""},
    {{"-h", "a b", "busybox", "true"}, "invalid hostname \"a b\""},
    {{"-h", "-x", "busybox", "true"}, "invalid hostname"},
    {{"--name", "web\nevil", "busybox", "true"}, "invalid container name \"web\\nevil\""},
    {{"--name", "web\x1b[2J", "busybox", "true"}, "invalid container name \"web\\x1b[2J\""},
    {{"--network", "net\nevil", "busybox", "true"}, "invalid network name \"net\\nevil\""},
    {{"-v", "vol\nevil:/data", "busybox", "true"}, "vol\\nevil"},
    // User (found out by the init, which then removes what it was given).
    {{"-u", "nosuchuser", "busybox", "true"},
     "unable to find user nosuchuser: no matching entries in passwd file"},
    {{"-u", "0:nosuchgroup", "busybox", "true"}, "unable to find group nosuchgroup"},
    // Working directory.
    {{"-w", "relative", "busybox", "true"}, "it needs to be an absolute path"},
    // Capabilities and security options.
    {{"--cap-add", "NOPE", "busybox", "true"}, "unknown capability \"CAP_NOPE\""},
    {{"--cap-drop", "CAP_NOPE", "busybox", "true"}, "unknown capability"},
    {{"--security-opt", "bogus", "busybox", "true"}, "invalid --security-opt \"bogus\""},
    {{"--security-opt", "no-new-privileges=maybe", "busybox", "true"}, "no-new-privileges"},
    {{"--security-opt", "seccomp={files}/missing.json", "busybox", "true"}, "missing.json"},
    {{"--security-opt", "seccomp={files}/not-json.json", "busybox", "true"}, "not-json.json"},
    {{"--security-opt", "seccomp={files}/wrong-schema.json", "busybox", "true"}, "seccomp profile"},
    {{"--security-opt", "seccomp={files}/bad-action.json", "busybox", "true"}, "SCMP_ACT_NOPE"},
    // Environment.
    {{"--env-file", "{files}/missing.env", "busybox", "true"}, "missing.env"},
    {{"--env-file", "{files}/bad.env", "busybox", "true"}, "variable \"BAD NAME\" contains"},
    {{"-e", "=x", "busybox", "true"}, "invalid environment variable \"=x\""},
    {{"-e", "A\nB=1", "busybox", "true"}, "invalid environment variable \"A\\nB=1\""},
    {{"--env-file", "{files}/ctl.env", "busybox", "true"}, "contains a control character"},
    {{"--env-file", "{files}/new\nline.env", "busybox", "true"}, "invalid --env-file"},
    // Volumes.
    {{"-v", "./relative:/x", "busybox", "true"}, "bind source path does not exist"},
    {{"-v", "{files}/missing-dir:/x", "busybox", "true"}, "bind source path does not exist"},
    // Mounts over what gctool sets up in /dev itself.
    {{"-v", "{files}:/dev", "busybox", "true"}, "destination can't be /dev, which gctool sets"},
    {{"-v", "{files}:/dev/pts", "busybox", "true"}, "can't be inside /dev/pts"},
    {{"-v", "{files}:/dev/pts/0", "busybox", "true"}, "can't be inside /dev/pts"},
    {{"-v", "{files}:/dev/shm", "busybox", "true"}, "can't be /dev/shm"},
    {{"-v", "{files}:/dev/mqueue", "busybox", "true"}, "can't be inside /dev/mqueue"},
    {{"-v", "{files}/bad.env:/dev/null", "busybox", "true"}, "can't be /dev/null"},
    {{"-v", "{files}/bad.env:/dev/console", "busybox", "true"}, "can't be /dev/console"},
    {{"-v", "{files}:/dev/../dev/", "busybox", "true"}, "can't be /dev, which gctool"},
    // Devices.
    {{"--device", "dev/fuse", "busybox", "true"}, "invalid device specification"},
    {{"--device", "/dev/fuse:/dev/f:rwx", "busybox", "true"}, "invalid device specification"},
    {{"--device", "/dev/fuse:/dev/null", "busybox", "true"}, "can't be /dev/null"},
    {{"--device", "{files}/missing-dev", "busybox", "true"}, "error gathering device information"},
    {{"--device", "{files}/bad.env", "busybox", "true"}, "is not a character or block device"},
    {{"-v", "{files}:/", "busybox", "true"}, "destination can't be '/'"},
    {{"-v", "{files}:/proc/x", "busybox", "true"}, "destination can't be inside /proc"},
    {{"-v", "{files}:/sys", "busybox", "true"}, "destination can't be inside /sys"},
    {{"-v", "{files}:relative", "busybox", "true"}, "must be absolute"},
    {{"-v", "a:b:c:d", "busybox", "true"}, "invalid volume specification \"a:b:c:d\""},
    {{"-v", "{files}:/x:rx", "busybox", "true"}, "invalid mode \"rx\""},
    // Sysctls: namespaced ones only, and only in the container's own namespaces.
    {{"--sysctl", "kernel.hostname=x", "busybox", "true"},
     "sysctl 'kernel.hostname=x' is not allowed"},
    {{"--sysctl", "net.ipv4.ip_forward", "busybox", "true"}, "is not allowed"},
    {{"--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true"},
     "not allowed in host network namespace"},
    {{"--ipc", "host", "--sysctl", "kernel.shmmax=1", "busybox", "true"},
     "conflicts with the --ipc host mode"},
    {{"--sysctl", "net.nosuch=1", "busybox", "true"}, "sysctl net.nosuch"},
    // Shared namespaces, groups, init.
    {{"--pid", "container:x", "busybox", "true"}, "--pid container:x: no such container: x"},
    {{"--uts", "private", "busybox", "true"}, "invalid --uts mode"},
    {{"--ipc", "bogus", "busybox", "true"}, "invalid --ipc mode \"bogus\""},
    {{"--ipc", "container:nosuch", "busybox", "true"}, "--ipc container:nosuch: no such container"},
    {{"--uts", "host", "-h", "x", "busybox", "true"}, "conflicting options: hostname"},
    {{"--group-add", "nosuchgroup", "busybox", "true"}, "unable to find group nosuchgroup"},
    {{"--network", "container:nosuch", "busybox", "true"}, "no such container: nosuch"},
    {{"--network", "container:taken", "busybox", "true"}, "cannot join network of a non running"},
    {{"--group-add", "a:b", "busybox", "true"}, "invalid --group-add \"a:b\""},
    {{"-a", "stdlog", "busybox", "true"}, "valid streams are STDIN, STDOUT and STDERR"},
    {{"-a", "stdout", "-d", "busybox", "true"}, "cannot specify both --attach and --detach"},
    // Restart policy and log options, in the foreground as with -d.
    {{"--restart", "sometimes", "busybox", "true"}, "invalid restart policy \"sometimes\""},
    {{"-d", "--restart", "always:3", "busybox", "true"}, "can only be used with 'on-failure'"},
    {{"-d", "--restart", "on-failure:-1", "busybox", "true"}, "must be a number >= 0"},
    {{"--log-opt", "max-size=lots", "busybox", "true"}, "max-size"},
    {{"-d", "--log-opt", "nope=1", "busybox", "true"}, "nope"},
    // Network, image, command.
    {{"--network", "nosuch", "busybox", "true"}, "nosuch"},
    {{"--pull", "never", "nosuchimage", "true"}, "no such image: nosuchimage"},
    {{"busybox"}, "no command specified"},
};

// Processes whose command line mentions text (the data root: a supervisor, a container init).
std::vector<std::string> processes_mentioning(const std::string& text) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const auto pid = entry.path().filename().string();
    if (!std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    // A process may exit while it is read: then it mentions nothing.
    std::string cmdline;
    try {
      std::ifstream in(entry.path() / "cmdline");
      cmdline.assign(std::istreambuf_iterator<char>(in), {});
    } catch (const std::exception&) {
      continue;
    }
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos) {
      found.push_back(pid + " " + cmdline);
    }
  }
  return found;
}

// Exit 125, nothing on stdout, one line `gctool: ...` on stderr that contains message.
void check_refused(const gctool::test::RunResult& r, const std::string& message) {
  INFO("stdout: " << r.out << "stderr: " << r.err);
  CHECK(r.exit_code == 125);
  CHECK(r.out == "");
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.starts_with("gctool: "));
  CHECK_THAT(r.err, Catch::Contains(message));
}

std::string nft_ruleset() {
  return gctool::test::run_program({"nft", "list", "ruleset"}).out;
}

}  // namespace

TEST_CASE("bad input to run is refused with one line and exit 125, leaving nothing", "[root]") {
  gctool::test::HostNetns netns;
  TestRoot root;
  TempDir files{"gct-bad-input"};
  gctool::test::write_bytes(files.path() / "not-json.json", "{\"defaultAction\": ");
  gctool::test::write_bytes(files.path() / "wrong-schema.json", "[\"SCMP_ACT_ALLOW\"]");
  gctool::test::write_bytes(files.path() / "bad-action.json",
                            R"({"defaultAction": "SCMP_ACT_NOPE", "syscalls": []})");
  gctool::test::write_bytes(files.path() / "bad.env", "GOOD=1\nBAD NAME=2\n");
  gctool::test::write_bytes(files.path() / "ctl.env", "GOOD=1\nBAD\x1bNAME=2\n");
  gctool::test::write_bytes(files.path() / "new\nline.env", "GOOD=1\n");
  REQUIRE(root.run({"run", "--name", "taken", "busybox", "true"}).exit_code == 0);
  const auto taken_id = root.inspect("taken")["Id"].get<std::string>();

  const fs::path containers = fs::path(root.root()) / "containers";
  const auto containers_before = directory_entries(containers);
  const auto nft_before = nft_ruleset();
  const auto links_before = gctool::test::gctool_links();
  for (const auto& row : kRows) {
    std::vector<std::string> args{"run"};
    for (const auto& arg : row.args) {
      std::string expanded = arg;
      if (const auto at = expanded.find("{files}"); at != std::string::npos) {
        expanded.replace(at, 7, files.str());
      }
      args.push_back(expanded);
    }
    INFO(fmt::format("gctool {}", fmt::join(args, " ")));
    const auto r = root.run(args);
    check_refused(r, row.message);

    CHECK(directory_entries(containers) == containers_before);
    CHECK(gctool::test::mounts_under(root.root()).empty());
    CHECK(gctool::test::gctool_links() == links_before);
    CHECK(nft_ruleset() == nft_before);
    CHECK(processes_mentioning(root.root()).empty());
    auto leaks = root.leaks();
    leaks.erase(std::remove_if(leaks.begin(), leaks.end(),
                               [&](const std::string& leak) {
                                 return leak.find(taken_id) != std::string::npos;
                               }),
                leaks.end());
    CHECK(leaks.empty());
  }
  CHECK(root.run({"rm", "taken"}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("network and volume names with control characters are refused, nothing created",
          "[root]") {
  gctool::test::HostNetns netns;
  TestRoot root;
  for (const std::string name : {"net\nevil", "net\tx", "n\x1b[2Jx", "../evil", "a b"}) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"network", "create", "--subnet", "10.250.3.0/24", name},
          std::vector<std::string>{"volume", "create", name}}) {
      INFO(fmt::format("gctool {}", fmt::join(args, " ")));
      const auto r = root.run(args);
      check_refused(r, "invalid");
    }
  }
  CHECK(root.run({"network", "ls", "-q"}).out == "");
  CHECK(root.run({"volume", "ls", "-q"}).out == "");
  CHECK(gctool::test::gctool_links().empty());
  CHECK(directory_entries(fs::path(root.root()) / "volumes").empty());
  // The lock file at most: no network record.
  for (const auto& name : directory_entries(fs::path(root.root()) / "networks")) {
    CHECK(name == ".lock");
  }
}
