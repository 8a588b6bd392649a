// The host's own cgroups (v1 controllers on the CI machine): limits really hold, OOM kills are
// reported, and nothing is left behind. Needs root.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
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
