// gctool-oci acceptance tests: runc's command line on a bundle of busybox in a temp dir. The
// lifecycle (create, state, start, kill, delete, run), what config.json asks for (namespaces,
// mounts, rlimits, capabilities, seccomp, hooks, cgroupsPath, --pid-file, --preserve-fds), exec,
// ps, pause/resume, and that nothing is left behind.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "gctool/core/fd.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/sys/pty.hpp"
#include "test_support.hpp"

using namespace gctool;
using namespace gctool::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string oci_binary() {
  return (std::filesystem::path(GCTOOL_BINARY).parent_path() / "gctool-oci").string();
}

// A bundle: busybox-static as the rootfs, and `gctool-oci spec`'s config without a terminal.
struct Bundle {
  TempDir dir{"gct-oci"};
  std::filesystem::path root = dir.path() / "state";
  std::filesystem::path bundle = dir.path() / "bundle";
  json config;

  Bundle() {
    const auto rootfs = bundle / "rootfs";
    for (const char* d : {"bin", "proc", "sys", "dev", "etc", "tmp"}) {
      std::filesystem::create_directories(rootfs / d);
    }
    std::filesystem::copy_file("/bin/busybox", rootfs / "bin/busybox");
    for (const char* applet :
         {"sh", "cat", "echo", "sleep", "hostname", "grep", "mkdir", "ls", "id", "true", "wc"}) {
      std::filesystem::create_symlink("busybox", rootfs / "bin" / applet);
    }
    std::ofstream(rootfs / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n";
    const auto spec = oci({"spec", "--bundle", bundle.string()});
    REQUIRE(spec.exit_code == 0);
    std::ifstream in(bundle / "config.json");
    config = json::parse(in);
    config["process"]["terminal"] = false;
    config["root"]["readonly"] = false;
  }

  RunResult oci(std::vector<std::string> args, const std::string& input = "") const {
    std::vector<std::string> argv{oci_binary(), "--root", root.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, input);
  }

  // Writes config.json with these args.
  void set_args(const std::vector<std::string>& args) {
    config["process"]["args"] = args;
    std::ofstream(bundle / "config.json") << config.dump(2);
  }

  // `run` in the foreground with the container's output in the result.
  RunResult run(const std::string& id) const {
    return oci({"run", "--bundle", bundle.string(), id});
  }

  // `create` with the container's stdout and stderr going to a file (it outlives create).
  RunResult create(const std::string& id, const std::vector<std::string>& extra = {}) const {
    std::string cmd = fmt::format("exec {} --root {} create --bundle {}", oci_binary(),
                                  root.string(), bundle.string());
    for (const auto& e : extra) {
      cmd += " " + e;
    }
    cmd += fmt::format(" {} >{} 2>&1", id, (dir.path() / (id + ".out")).string());
    return run_program({"sh", "-c", cmd});
  }

  std::string output(const std::string& id) const {
    std::ifstream in(dir.path() / (id + ".out"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  json state(const std::string& id) const {
    const auto r = oci({"state", id});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
  }

  bool wait_status(const std::string& id, const std::string& status) const {
    for (int i = 0; i < 200; ++i) {
      if (state(id)["status"] == status) {
        return true;
      }
      std::this_thread::sleep_for(25ms);
    }
    return false;
  }

  // Nothing of gctool-oci left: no state (the cache of compiled seccomp filters is no
  // container's), no mount under the temp dir, no cgroup.
  void check_clean(const std::string& cgroup = "gctool-oci") const {
    auto entries = directory_entries(root);
    entries.erase("@seccomp-cache");
    CHECK(entries.empty());
    CHECK(mounts_under(dir.path().string()).empty());
    for (const char* ctrl : {"memory", "pids", "cpu", "freezer", "blkio", "net_cls", "hugetlb"}) {
      const auto d = std::filesystem::path("/sys/fs/cgroup") / ctrl / cgroup;
      INFO(d);
      CHECK(directory_entries(d).count(config.value("id", "")) == 0);
      for (const auto& name : directory_entries(d)) {
        CHECK(name.rfind("oci", 0) != 0);
      }
    }
  }
};

}  // namespace

TEST_CASE("gctool-oci --version names the runtime and the spec", "[oci]") {
  const auto r = run_program({oci_binary(), "--version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("gctool-oci version ") == 0);
  CHECK(r.out.find("\nspec: 1.") != std::string::npos);
  const auto f = run_program({oci_binary(), "features"});
  REQUIRE(f.exit_code == 0);
  const auto doc = json::parse(f.out);
  CHECK(doc["linux"]["seccomp"]["enabled"] == true);
  CHECK(doc["ociVersionMax"].get<std::string>().rfind("1.", 0) == 0);
}

TEST_CASE("an unknown container does not exist, in the log file as json too", "[oci]") {
  TempDir dir("gct-oci");
  const auto log = (dir.path() / "log.json").string();
  const auto r = run_program(
      {oci_binary(), "--root", dir.str(), "--log", log, "--log-format", "json", "state", "nosuch"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "gctool-oci: container \"nosuch\" does not exist: No such file or directory\n");
  std::ifstream in(log);
  const auto line = json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  CHECK(line["level"] == "error");
  CHECK(line["msg"].get<std::string>().find("does not exist") != std::string::npos);
  CHECK(line.contains("time"));
}

TEST_CASE("create, state, start, kill, delete", "[root][oci]") {
  Bundle b;
  const auto id = unique_name("oci");
  b.set_args({"sh", "-c", "echo started; exec sleep 1000"});
  const auto pid_file = b.dir.path() / "pid";
  const auto c = b.create(id, {"--pid-file", pid_file.string()});
  INFO(c.out + c.err + b.output(id));
  REQUIRE(c.exit_code == 0);
  auto st = b.state(id);
  CHECK(st["status"] == "created");
  CHECK(st["ociVersion"].get<std::string>().rfind("1.", 0) == 0);
  CHECK(st["id"] == id);
  CHECK(st["bundle"] == b.bundle.string());
  const int pid = st["pid"];
  std::ifstream in(pid_file);
  int from_file = 0;
  in >> from_file;
  CHECK(from_file == pid);
  // Nothing runs before start: the process waits, its command not executed yet.
  CHECK(b.output(id).empty());
  CHECK(b.oci({"delete", id}).exit_code == 1);  // only a stopped container may be deleted...
  CHECK(b.wait_status(id, "created"));
  CHECK(b.oci({"delete", "--force", id}).exit_code == 0);  // ...or any with --force
  // Gone, or a zombie waiting for whoever inherited it.
  const auto stat = read_proc_stat(pid);
  CHECK((!stat || stat->state == 'Z'));
  const auto c2 = b.create(id);
  REQUIRE(c2.exit_code == 0);
  const auto s = b.oci({"start", id});
  INFO(s.err);
  CHECK(s.exit_code == 0);
  CHECK(b.wait_status(id, "running"));
  CHECK(b.oci({"start", id}).exit_code == 1);
  const auto d = b.oci({"delete", id});
  CHECK(d.exit_code == 1);
  CHECK(d.err.find("not stopped") != std::string::npos);
  CHECK(b.oci({"kill", id, "KILL"}).exit_code == 0);
  CHECK(b.wait_status(id, "stopped"));
  CHECK(b.state(id)["pid"] == 0);
  CHECK(b.output(id) == "started\n");
  CHECK(b.oci({"delete", id}).exit_code == 0);
  const auto gone = b.oci({"state", id});
  CHECK(gone.exit_code == 1);
  CHECK(gone.err.find("does not exist") != std::string::npos);
  b.check_clean();
}

TEST_CASE("run applies the config: namespaces, mounts, rlimits, capabilities, env, user",
          "[root][oci]") {
  Bundle b;
  const auto id = unique_name("oci");
  b.config["hostname"] = "ocihost";
  b.config["process"]["env"].push_back("FOO=bar");
  b.config["process"]["cwd"] = "/tmp/work";
  b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1001}, {"additionalGids", {1002}}};
  b.config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 321}, {"hard", 654}}};
  const auto shared = b.dir.path() / "shared";
  std::filesystem::create_directories(shared);
  std::ofstream(shared / "f") << "from-host\n";
  b.config["mounts"].push_back({{"destination", "/data"},
                                {"type", "bind"},
                                {"source", shared.string()},
                                {"options", {"rbind", "ro"}}});
  b.set_args({"sh", "-c",
              "hostname; echo $FOO $HOME; pwd; id -u; id -g; id -G; ulimit -n; ulimit -Hn; "
              "cat /data/f; echo x > /data/g || echo read-only; grep CapEff /proc/self/status; "
              "echo $$; exit 3"});
  const auto r = b.run(id);
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.out ==
        "ocihost\nbar /\n/tmp/work\n1000\n1001\n1001 1002\n321\n654\nfrom-host\nread-only\n"
        "CapEff:\t0000000000000000\n1\n");
  CHECK(!std::filesystem::exists(shared / "g"));
  b.check_clean();
}

TEST_CASE("seccomp from the spec, hooks with the state on stdin, cgroupsPath and limits",
          "[root][oci]") {
  Bundle b;
  const auto id = unique_name("oci");
  b.config["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures", {"SCMP_ARCH_X86_64"}},
      {"syscalls",
       {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
  const auto hook_out = b.dir.path() / "hook";
  b.config["hooks"]["prestart"] = {
      {{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + hook_out.string()}}}};
  b.config["hooks"]["poststop"] = {
      {{"path", "/bin/sh"}, {"args", {"sh", "-c", "touch " + hook_out.string() + ".stop"}}}};
  const auto cg = unique_name("ocitest");
  b.config["linux"]["cgroupsPath"] = "/" + cg + "/" + id;
  b.config["linux"]["resources"]["memory"] = {{"limit", 64 << 20}};
  b.config["linux"]["resources"]["pids"] = {{"limit", 50}};
  b.set_args({"sh", "-c",
              "mkdir /tmp/x || echo refused; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
              "/sys/fs/cgroup/pids/pids.max"});
  const auto r = b.run(id);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("refused\n67108864\n50\n") != std::string::npos);
  // The compiled filter is kept for the next start, root's alone.
  const auto cache = b.root / "@seccomp-cache";
  CHECK(directory_entries(cache).size() == 1);
  CHECK((std::filesystem::status(cache).permissions() & std::filesystem::perms::all) ==
        std::filesystem::perms::owner_all);
  // Read before the second run's prestart hook writes its own state over it.
  std::ifstream in(hook_out);
  const auto state = json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  const auto again = b.run(unique_name("oci"));
  CHECK(again.out.find("refused\n67108864\n50\n") != std::string::npos);
  CHECK(directory_entries(cache).size() == 1);
  CHECK(state["id"] == id);
  CHECK(state["pid"].get<int>() > 0);
  CHECK(std::filesystem::exists(hook_out.string() + ".stop"));
  // The parent that cgroupsPath needed went with the container, in every hierarchy.
  for (const char* ctrl :
       {"memory", "cpu", "cpuacct", "cpuset", "devices", "pids", "freezer", "blkio"}) {
    CHECK(!std::filesystem::exists(std::string("/sys/fs/cgroup/") + ctrl + "/" + cg));
  }
  b.check_clean();
}

TEST_CASE("a limit the host refuses: create fails and leaves no cgroup in any hierarchy",
          "[root][oci]") {
  Bundle b;
  const auto id = unique_name("oci");
  // The kernel takes 0..200: written after the freezer and blkio directories are made.
  b.config["linux"]["resources"]["memory"] = {{"swappiness", 1000}};
  b.set_args({"true"});
  const auto c = b.create(id);
  INFO(c.out + c.err + b.output(id));
  CHECK(c.exit_code == 1);
  CHECK(b.output(id).find("memory.swappiness") != std::string::npos);
  CHECK(b.oci({"state", id}).exit_code == 1);
  b.check_clean();
}

TEST_CASE("a capability gctool-oci cannot grant is refused by name", "[root][oci]") {
  Bundle b;
  const auto id = unique_name("oci");
  for (const char* set : {"bounding", "effective", "permitted"}) {
    b.config["process"]["capabilities"][set] = {"CAP_CHOWN", "CAP_SYS_NICE"};
  }
  b.set_args({"sh", "-c", "grep CapEff /proc/self/status"});
  const auto refused =
      run_program({"setpriv", "--bounding-set", "-sys_nice", oci_binary(), "--root",
                   b.root.string(), "run", "--bundle", b.bundle.string(), id});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("gctool-oci: process.capabilities: CAP_SYS_NICE cannot be granted: not "
                         "in gctool-oci's bounding set") == 0);
  CHECK(refused.out.empty());
  b.check_clean();
  // Where gctool-oci has it, the container gets it.
  const auto r = b.run(id);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "CapEff:\t0000000000800001\n");
  b.check_clean();
}

TEST_CASE("without a mount namespace the process shares the caller's mounts, chrooted",
          "[root][oci]") {
  Bundle b;
  const auto id = unique_name("oci");
  std::ofstream(b.bundle / "rootfs/marker") << "in the rootfs\n";
  auto& namespaces = b.config["linux"]["namespaces"];
  namespaces.erase(std::remove_if(namespaces.begin(), namespaces.end(),
                                  [](const json& ns) { return ns["type"] == "mount"; }),
                   namespaces.end());
  b.set_args({"sh", "-c", "cat /marker; exec sleep 1000"});
  const auto c = b.create(id);
  INFO(c.err + b.output(id));
  REQUIRE(c.exit_code == 0);
  const int pid = b.state(id)["pid"];
  const auto ns = [](const std::string& pid) {
    return std::filesystem::read_symlink("/proc/" + pid + "/ns/mnt");
  };
  CHECK(ns(std::to_string(pid)) == ns("self"));
  CHECK(std::filesystem::read_symlink(fmt::format("/proc/{}/root", pid)) ==
        std::filesystem::canonical(b.bundle / "rootfs"));
  // Nothing of the config's mounts was made in the caller's namespace.
  CHECK(mounts_under(b.bundle.string()).empty());
  REQUIRE(b.oci({"start", id}).exit_code == 0);
  CHECK(b.wait_status(id, "running"));
  const auto e = b.oci({"exec", id, "cat", "/marker"});
  INFO(e.err);
  CHECK(e.out == "in the rootfs\n");
  CHECK(b.oci({"kill", id, "KILL"}).exit_code == 0);
  CHECK(b.wait_status(id, "stopped"));
  CHECK(b.output(id) == "in the rootfs\n");
  CHECK(b.oci({"delete", id}).exit_code == 0);
  b.check_clean();
}

TEST_CASE("exec, ps, pause and resume in a running container", "[root][oci]") {
  Bundle b;
  const auto id = unique_name("oci");
  b.set_args({"sleep", "1000"});
  REQUIRE(b.create(id).exit_code == 0);
  REQUIRE(b.oci({"start", id}).exit_code == 0);
  const int pid = b.state(id)["pid"];
  const auto e = b.oci({"exec", "--env", "X=y", id, "sh", "-c", "echo $X; cat /proc/1/cmdline"});
  INFO(e.err);
  CHECK(e.exit_code == 0);
  CHECK(e.out == std::string("y\nsleep\0"
                             "1000\0",
                             13));
  CHECK(b.oci({"exec", id, "sh", "-c", "exit 7"}).exit_code == 7);
  const auto pid_file = b.dir.path() / "exec.pid";
  std::ofstream(b.dir.path() / "process.json")
      << json{{"args", {"sleep", "1000"}}, {"cwd", "/"}, {"env", {"PATH=/bin"}}}.dump();
  // The detached process keeps exec's stdio: not the test's pipes.
  const auto d = run_program({"sh", "-c",
                              fmt::format("exec {} --root {} exec -d --pid-file {} --process {} {} "
                                          ">/dev/null 2>&1",
                                          oci_binary(), b.root.string(), pid_file.string(),
                                          (b.dir.path() / "process.json").string(), id)});
  INFO(d.err);
  CHECK(d.exit_code == 0);
  std::ifstream in(pid_file);
  int exec_pid = 0;
  in >> exec_pid;
  const auto ps = json::parse(b.oci({"ps", "--format", "json", id}).out);
  CHECK(ps == json{pid, exec_pid});
  CHECK(b.oci({"pause", id}).exit_code == 0);
  CHECK(b.state(id)["status"] == "paused");
  CHECK(b.oci({"resume", id}).exit_code == 0);
  CHECK(b.state(id)["status"] == "running");
  CHECK(b.oci({"kill", "--all", id, "9"}).exit_code == 0);
  CHECK(b.wait_status(id, "stopped"));
  // exec -d's process is ours until we reap it.
  CHECK(b.oci({"delete", id}).exit_code == 0);
  b.check_clean();
}

TEST_CASE("a terminal goes to --console-socket, --preserve-fds passes fds", "[root][oci]") {
  Bundle b;
  const auto id = unique_name("oci");
  b.config["process"]["terminal"] = true;
  b.set_args({"sh", "-c", "[ -t 0 ] && echo tty; ls /proc/self/fd | wc -l"});
  const auto sock_path = b.dir.path() / "console.sock";
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener.get(), 1) == 0);
  UniqueFd master;
  std::thread receiver([&] {
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (auto fd = sys::receive_fd(conn.borrow())) {
      master = std::move(*fd);
    }
  });
  const auto c = b.create(id, {"--console-socket", sock_path.string()});
  receiver.join();
  INFO(c.out + b.output(id));
  REQUIRE(c.exit_code == 0);
  REQUIRE(master.valid());
  REQUIRE(b.oci({"start", id}).exit_code == 0);
  std::string out;
  char buf[256];
  ssize_t n = 0;
  while ((n = ::read(master.get(), buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  // 0, 1, 2 and the fd ls reads: nothing of gctool-oci leaks in.
  CHECK(out == "tty\r\n4\r\n");
  CHECK(b.wait_status(id, "stopped"));
  CHECK(b.oci({"delete", id}).exit_code == 0);

  b.config["process"]["terminal"] = false;
  b.set_args({"sh", "-c", "cat <&3"});
  const auto r =
      run_program({"sh", "-c",
                   fmt::format("echo through-fd-3 > {0}/fd3; exec 3<{0}/fd3; exec {1} --root {2} "
                               "run --preserve-fds 1 --bundle {3} {4}",
                               b.dir.str(), oci_binary(), b.root.string(), b.bundle.string(), id)});
  INFO(r.err);
  CHECK(r.out == "through-fd-3\n");
  b.check_clean();
}
