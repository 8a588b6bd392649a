// The host's own cgroups (v1 controllers on the CI machine): limits really hold, OOM kills are
// reported, and nothing is left behind. Needs root.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>

#include "gctool/cgroup/handle.hpp"
#include "gctool/cgroup/layout.hpp"
#include "gctool/cgroup/migration_warmup.hpp"
#include "gctool/cgroup/v2_driver.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "test_support.hpp"

using namespace gctool::cgroup;
using namespace std::chrono_literals;

namespace {

// A unique parent "gctool-test/<unique>" for one test case; on the way out (failures included)
// it reaps the test's children and removes the parent and, when no other test uses it,
// gctool-test itself.
struct RealCgroups {
  CgroupLayout layout = detect_layout();
  std::shared_ptr<const CgroupDriver> driver = make_driver(layout);
  std::string parent = "gctool-test/" + gctool::test::unique_name("t");

  std::string path(const std::string& name) const { return parent + "/" + name; }

  // Every directory a cgroup `path` could have on this host.
  std::vector<std::filesystem::path> candidates(const std::string& path) const {
    std::vector<std::filesystem::path> out;
    for (const auto& [name, mount] : layout.controllers) {
      out.push_back(mount / path);
    }
    if (!layout.unified_mount.empty()) {
      out.push_back(layout.unified_mount / path);
    }
    return out;
  }

  ~RealCgroups() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    try {
      driver->kill_all(parent, 2s);
      driver->remove(parent, 2s);
      driver->remove("gctool-test", 0ms);
    } catch (const gctool::Error&) {
      // gctool-test is busy with another test's cgroups: that test removes it.
    }
  }
};

// Forks a child that waits until it is in the cgroup, then runs body and exits with its result.
pid_t spawn_in(const CgroupHandle& cgroup, const std::function<int()>& body) {
  int sync[2];
  REQUIRE(::pipe2(sync, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(sync[1]);
    char go = 0;
    if (::read(sync[0], &go, 1) != 1) {
      ::_exit(120);
    }
    ::_exit(body());
  }
  ::close(sync[0]);
  try {
    cgroup.add_process(pid);
  } catch (...) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(sync[1]);
    throw;
  }
  REQUIRE(::write(sync[1], "x", 1) == 1);
  ::close(sync[1]);
  return pid;
}

// In a child: makes fuse (10:229) and kmsg (1:11) nodes in dir and opens them. 0 when every
// step went as expected (`confined`: the opens fail with EPERM, /dev/null still works), else
// the number of the first step that did not.
int probe_devices(const std::filesystem::path& dir, bool confined) {
  const auto fuse = dir / "fuse";
  const auto kmsg = dir / "kmsg";
  if (::mknod(fuse.c_str(), S_IFCHR | 0600, makedev(10, 229)) != 0 ||
      ::mknod(kmsg.c_str(), S_IFCHR | 0600, makedev(1, 11)) != 0) {
    return 10;
  }
  for (const auto& [node, flags] : {std::pair{fuse, O_RDWR}, std::pair{kmsg, O_WRONLY}}) {
    const int fd = ::open(node.c_str(), flags | O_CLOEXEC);
    const bool denied = fd < 0 && errno == EPERM;
    if (fd >= 0) {
      ::close(fd);
    }
    if (denied != confined) {
      return node == fuse ? 11 : 12;
    }
  }
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || ::write(null, "x", 1) != 1) {
    return 13;
  }
  ::close(null);
  return 0;
}

// The number of device programs attached directly to the cgroup directory.
std::uint32_t device_programs(const std::filesystem::path& dir) {
  const gctool::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd);
  bpf_attr query{};
  query.query.target_fd = static_cast<std::uint32_t>(fd.get());
  query.query.attach_type = BPF_CGROUP_DEVICE;
  REQUIRE(::syscall(SYS_bpf, BPF_PROG_QUERY, &query, sizeof query) == 0);
  return query.query.prog_cnt;
}

int wait_status(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace

TEST_CASE("a 32 MiB limit OOM-kills a process touching 64 MiB", "[cgroup][root]") {
  RealCgroups host;
  auto cgroup =
      CgroupHandle::create(host.driver, host.path("oom"), Resources{.memory_bytes = 32 << 20});
  CHECK_FALSE(cgroup.oom_killed());
  const pid_t pid = spawn_in(cgroup, [] {
    constexpr std::size_t size = 64 << 20;
    // volatile: the compiler may otherwise drop an allocation nobody reads.
    auto* memory = static_cast<volatile char*>(std::malloc(size));
    if (memory == nullptr) {
      return 2;
    }
    for (std::size_t i = 0; i < size; i += 4096) {
      memory[i] = 1;
    }
    return 0;
  });
  const int status = wait_status(pid);
  INFO("wait status " << status);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(cgroup.oom_killed());
  const Stats stats = cgroup.stats();
  CHECK(stats.oom_kills >= 1);
  REQUIRE(stats.memory_peak);
  CHECK(*stats.memory_peak <= 32u << 20);
}

TEST_CASE("a quota of 0.2 CPUs holds a busy loop near 20%", "[cgroup][root]") {
  RealCgroups host;
  auto cgroup =
      CgroupHandle::create(host.driver, host.path("cpu"), Resources{.nano_cpus = 200000000});
  const pid_t pid = spawn_in(cgroup, [] {
    for (;;) {
      asm volatile("" ::: "memory");  // keeps the busy loop from being optimised away
    }
    return 0;
  });
  const auto start = std::chrono::steady_clock::now();
  const auto used_before = cgroup.stats().cpu_usage_ns;
  std::this_thread::sleep_for(1s);
  const auto used_after = cgroup.stats().cpu_usage_ns;
  const auto wall = std::chrono::steady_clock::now() - start;
  cgroup.kill_all();
  CHECK(WTERMSIG(wait_status(pid)) == SIGKILL);
  REQUIRE(used_before);
  REQUIRE(used_after);
  const double share = static_cast<double>(*used_after - *used_before) /
                       static_cast<double>(std::chrono::nanoseconds(wall).count());
  CHECK(share > 0.10);
  CHECK(share < 0.35);
}

TEST_CASE("a pids limit of 5 makes the sixth process fail to fork", "[cgroup][root]") {
  RealCgroups host;
  // cpuset too: its cpus and mems must be inherited into every new level for tasks to join.
  auto cgroup = CgroupHandle::create(host.driver, host.path("pids"),
                                     Resources{.cpuset_cpus = "0", .pids_limit = 5});
  const pid_t pid = spawn_in(cgroup, [] {
    int forked = 0;
    for (; forked < 10; ++forked) {
      const pid_t child = ::fork();
      if (child < 0) {
        break;
      }
      if (child == 0) {
        ::pause();
        ::_exit(0);
      }
    }
    return forked;
  });
  const int status = wait_status(pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 4);
  CHECK(cgroup.pids().size() == 4);
  cgroup.kill_all();
  CHECK(cgroup.pids().empty());
}

TEST_CASE("another process can open, kill and remove a kept cgroup", "[cgroup][root]") {
  RealCgroups host;
  const auto path = host.path("kept");
  pid_t pid = -1;
  {
    auto cgroup = CgroupHandle::create(host.driver, path, Resources{.pids_limit = 50});
    pid = spawn_in(cgroup, [] {
      ::pause();
      return 0;
    });
    CHECK(cgroup.pids() == std::vector<pid_t>{pid});
    CHECK(cgroup.release() == path);
  }
  REQUIRE(host.driver->exists(path));
  auto opened = CgroupHandle::open(host.driver, path);
  opened.kill_all();
  CHECK(WTERMSIG(wait_status(pid)) == SIGKILL);
  opened.remove();
  opened.remove();
  CHECK_FALSE(host.driver->exists(path));
  for (const auto& dir : host.candidates(path)) {
    CHECK_FALSE(std::filesystem::exists(dir));
  }
}

TEST_CASE("the destructor kills and removes in every controller", "[cgroup][root]") {
  std::vector<std::filesystem::path> dirs;
  pid_t pid = -1;
  {
    RealCgroups host;
    const auto path = host.path("gone");
    dirs = host.candidates(host.parent);
    {
      auto cgroup = CgroupHandle::create(host.driver, path,
                                         Resources{.memory_bytes = 64 << 20,
                                                   .nano_cpus = 500000000,
                                                   .cpu_shares = 512,
                                                   .cpuset_cpus = "0-1",
                                                   .pids_limit = 20});
      pid = spawn_in(cgroup, [] {
        ::pause();
        return 0;
      });
      CHECK(cgroup.stats().pids_current == 1u);
    }
    CHECK(WTERMSIG(wait_status(pid)) == SIGKILL);
    CHECK_FALSE(host.driver->exists(path));
  }
  for (const auto& dir : dirs) {
    CHECK_FALSE(std::filesystem::exists(dir));
  }
}

TEST_CASE("the migration warm-up leaves the process where it was and a move still works",
          "[cgroup][root]") {
  const auto before = gctool::read_file("/proc/self/cgroup");
  {
    const auto warmup = MigrationWarmup::start();
    // The controllers of this host are v1 (hybrid), where the warm-up has something to do.
    CHECK(warmup.started() == (detect_layout().mode != CgroupMode::unified));
    RealCgroups host;
    auto cgroup = CgroupHandle::create(host.driver, host.path("moved"), Resources{});
    const pid_t pid = spawn_in(cgroup, [] { return 7; });
    CHECK(WEXITSTATUS(wait_status(pid)) == 7);
  }
  CHECK(gctool::read_file("/proc/self/cgroup") == before);
}

TEST_CASE("v1 device rules: Docker's list in devices.list, host devices refused",
          "[cgroup][root]") {
  RealCgroups host;
  REQUIRE(host.layout.controllers.count("devices") == 1);
  gctool::test::TempDir nodes("cg-devices");
  auto cgroup = CgroupHandle::create(host.driver, host.path("dev"),
                                     Resources{.devices = default_device_rules()});
  const auto list =
      gctool::read_file(host.layout.controllers.at("devices") / host.path("dev") / "devices.list");
  for (const auto* line :
       {"c *:* m\n", "b *:* m\n", "c 1:3 rwm\n", "c 1:5 rwm\n", "c 1:7 rwm\n", "c 1:8 rwm\n",
        "c 1:9 rwm\n", "c 5:0 rwm\n", "c 5:1 rwm\n", "c 5:2 rwm\n", "c 136:* rwm\n"}) {
    CHECK(list.find(line) != std::string::npos);
  }
  CHECK(std::count(list.begin(), list.end(), '\n') == 11);
  const pid_t pid = spawn_in(cgroup, [&] { return probe_devices(nodes.path(), true); });
  CHECK(WEXITSTATUS(wait_status(pid)) == 0);
}

TEST_CASE("v2 device rules: a BPF program confines the cgroup's processes", "[cgroup][root]") {
  RealCgroups host;
  // This host is hybrid: cgroup2 at /sys/fs/cgroup/unified applies device programs too.
  REQUIRE_FALSE(host.layout.unified_mount.empty());
  host.driver = std::make_shared<V2Driver>(host.layout.unified_mount);
  gctool::test::TempDir nodes("cg-devices");
  auto cgroup = CgroupHandle::create(host.driver, host.path("dev"),
                                     Resources{.devices = default_device_rules()});
  const auto dir = host.layout.unified_mount / host.path("dev");
  // Applying again replaces the program rather than stacking a second one.
  cgroup.set_resources(Resources{.devices = default_device_rules()});
  CHECK(device_programs(dir) == 1);
  const pid_t confined = spawn_in(cgroup, [&] { return probe_devices(nodes.path(), true); });
  CHECK(WEXITSTATUS(wait_status(confined)) == 0);

  std::filesystem::remove(nodes.path() / "fuse");
  std::filesystem::remove(nodes.path() / "kmsg");
  cgroup.set_resources(Resources{.devices = all_device_rules()});
  CHECK(device_programs(dir) == 1);
  const pid_t free = spawn_in(cgroup, [&] { return probe_devices(nodes.path(), false); });
  CHECK(WEXITSTATUS(wait_status(free)) == 0);
}
