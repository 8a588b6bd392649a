// Podman and containerd drive gctool-oci: each engine runs from temporary storage (podman --root
// and --runroot; a containerd started by the test with its own root, state and socket) and uses
// a copy of gctool-oci as its runtime. Skips, with the reason, when the engine is not installed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "test_support.hpp"

using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

std::string oci_binary() {
  return (std::filesystem::path(GCTOOL_BINARY).parent_path() / "gctool-oci").string();
}

bool installed(const std::string& program) {
  return run_program({"sh", "-c", "command -v " + program}).exit_code == 0;
}

std::string busybox_tar(const TempDir& dir) {
  const auto tar = (dir.path() / "busybox.tar").string();
  REQUIRE(run_program({GCTOOL_SOURCE_DIR "/tools/make-busybox-image", tar}).exit_code == 0);
  return tar;
}

// The runtime's state dirs below the engine's temp dir hold no container once it is done, and
// no gctool-oci process is left.
void check_no_gctool_oci_left(const std::string& runtime) {
  const auto r = run_program({"pgrep", "-f", runtime});
  CHECK(r.out == "");
}

}  // namespace

TEST_CASE("podman runs containers with gctool-oci", "[root][oci][podman]") {
  REQUIRE(installed("podman"));  // tools/deps --test installs it
  TempDir dir("gct-oci-podman");
  const auto runtime = (dir.path() / "gctool-oci").string();
  std::filesystem::copy_file(oci_binary(), runtime);
  const auto conf = dir.path() / "containers.conf";
  std::ofstream(conf) << fmt::format(
      "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n"
      "netns = \"none\"\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
      "runtime = \"gctool-oci\"\nruntime_supports_json = [\"gctool-oci\"]\n"
      "[engine.runtimes]\ngctool-oci = [\"{}\"]\n",
      runtime);
  const std::vector<std::string> env{"CONTAINERS_CONF=" + conf.string()};
  // Podman refuses a run root path longer than 50 characters, as the build tree's can be.
  const TempDir runroot("gct-pd", "/run");
  const auto podman = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"podman",      "--root",   dir.str() + "/root", "--runroot",
                                  runroot.str(), "--tmpdir", dir.str() + "/tmp"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, "", env);
  };
  const auto imported = podman({"import", busybox_tar(dir), "localhost/busybox"});
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);

  auto r = podman({"run", "--rm", "localhost/busybox", "sh", "-c", "echo hello; ulimit -n"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hello\n20000\n");

  const auto name = unique_name("ocipod");
  r = podman({"run", "-d", "--name", name, "localhost/busybox", "sh", "-c",
              "echo logged; trap 'exit 0' TERM; while :; do sleep 0.1; done"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string logs;
  for (int i = 0; i < 100 && logs.empty(); ++i) {
    logs = podman({"logs", name}).out;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(logs == "logged\n");
  r = podman({"exec", name, "sh", "-c", "echo in-exec"});
  CHECK(r.out == "in-exec\n");
  // exec -t: a terminal from the container's devpts, through conmon's console socket.
  r = podman({"exec", "-t", name, "tty"});
  CHECK(r.out.rfind("/dev/pts/", 0) == 0);
  CHECK(podman({"pause", name}).exit_code == 0);
  CHECK(podman({"inspect", "-f", "{{.State.Status}}", name}).out == "paused\n");
  CHECK(podman({"unpause", name}).exit_code == 0);
  r = podman({"top", name});
  CHECK(r.out.find("while") != std::string::npos);
  CHECK(podman({"kill", "-s", "USR1", name}).exit_code == 0);
  r = podman({"stop", "-t", "5", name});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(podman({"inspect", "-f", "{{.State.ExitCode}}", name}).out == "0\n");
  CHECK(podman({"rm", name}).exit_code == 0);

  // run -it: a terminal all the way from script(1)'s pty.
  r = run_program({"script", "-qec",
                   fmt::format("podman --root {0}/root --runroot {1} --tmpdir {0}/tmp run -it "
                               "--rm localhost/busybox sh -c 'tty; exit 4'",
                               dir.str(), runroot.str()),
                   "/dev/null"},
                  "", env);
  CHECK(r.out.find("/dev/pts/0") != std::string::npos);
  CHECK(r.exit_code == 4);

  CHECK(podman({"ps", "-aq"}).out == "");
  CHECK(mounts_under(dir.str() + "/root/overlay").empty());
  check_no_gctool_oci_left(runtime);
  run_program({"podman", "--root", dir.str() + "/root", "--runroot", dir.str() + "/run", "system",
               "reset", "-f"},
              "", env);
}

TEST_CASE("containerd runs containers with gctool-oci", "[root][oci][containerd]") {
  REQUIRE(installed("containerd"));  // tools/deps --test installs it, with ctr
  REQUIRE(installed("ctr"));
  TempDir dir("gct-oci-ctrd");
  const auto runtime = (dir.path() / "gctool-oci").string();
  std::filesystem::copy_file(oci_binary(), runtime);
  const auto socket = dir.str() + "/containerd.sock";
  std::ofstream(dir.path() / "config.toml") << fmt::format(
      "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n"
      "[grpc]\naddress = \"{1}\"\n[ttrpc]\naddress = \"{1}.ttrpc\"\n"
      "[plugins.\"io.containerd.grpc.v1.cri\"]\ndisable_apparmor = true\n",
      dir.str(), socket);
  const pid_t daemon = ::fork();
  if (daemon == 0) {
    const auto log = dir.str() + "/containerd.log";
    ::freopen(log.c_str(), "w", stdout);
    ::freopen(log.c_str(), "w", stderr);
    ::execlp("containerd", "containerd", "--config", (dir.str() + "/config.toml").c_str(), nullptr);
    ::_exit(127);
  }
  struct StopDaemon {
    pid_t pid;
    ~StopDaemon() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  } stop_daemon{daemon};
  const auto ctr = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"ctr", "--address", socket, "-n", "gctooltest"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv);
  };
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = ctr({"version"}).exit_code == 0;
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(up);
  const auto tar = busybox_tar(dir);
  // ctr imports image archives, not rootfs tarballs: gctool saves one.
  const auto groot = dir.str() + "/gctool";
  REQUIRE(
      run_program({GCTOOL_BINARY, "--root", groot, "image", "import", tar, "busybox"}).exit_code ==
      0);
  const auto archive = dir.str() + "/busybox-image.tar";
  REQUIRE(run_program({GCTOOL_BINARY, "--root", groot, "image", "save", "-o", archive, "busybox"})
              .exit_code == 0);
  auto r = ctr({"images", "import", archive});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string image = "docker.io/library/busybox:latest";

  r = ctr({"run", "--rm", "--runc-binary", runtime, image, unique_name("ctr"), "echo", "hello"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hello\n");

  const auto id = unique_name("ctr");
  r = ctr({"run", "-d", "--runc-binary", runtime, image, id, "sleep", "1000"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  r = ctr({"task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in-exec"});
  CHECK(r.out == "in-exec\n");
  CHECK(ctr({"task", "pause", id}).exit_code == 0);
  CHECK(ctr({"task", "ls"}).out.find("PAUSED") != std::string::npos);
  CHECK(ctr({"task", "resume", id}).exit_code == 0);
  r = ctr({"task", "ps", id});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("PID") != std::string::npos);
  CHECK(ctr({"task", "kill", "-s", "SIGKILL", id}).exit_code == 0);
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i) {
    stopped = ctr({"task", "ls"}).out.find("STOPPED") != std::string::npos;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(stopped);
  CHECK(ctr({"task", "delete", id}).exit_code == 0);
  CHECK(ctr({"containers", "delete", id}).exit_code == 0);

  check_no_gctool_oci_left(runtime);
  CHECK(mounts_under(dir.str()).empty());
}
