// Runs a command in a cgroup with Docker-style limits and prints what it used:
//   example_cgroup_limits 64m 0.5 -- sh -c 'echo hi'
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "gctool/cgroup/handle.hpp"
#include "gctool/core/units.hpp"

int main(int argc, char** argv) {
  if (argc < 5 || std::string(argv[3]) != "--") {
    fmt::print(stderr, "usage: {} MEMORY CPUS -- COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  try {
    using namespace gctool::cgroup;
    const Resources resources{.memory_bytes = gctool::parse_memory_size(argv[1]),
                              .nano_cpus = gctool::parse_cpus(argv[2]),
                              .pids_limit = 64};
    validate(resources);  // fails with one clear line before anything exists
    auto cgroup = CgroupHandle::create(
        host_driver(), container_cgroup_path(fmt::format("example-{}", ::getpid())), resources);
    // The child waits on a pipe until it is in the cgroup (on v2 a runtime would rather
    // clone3 with CLONE_INTO_CGROUP and cgroup.open_dir()).
    int go[2];
    if (::pipe(go) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe");
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      char byte = 0;
      ::close(go[1]);
      if (::read(go[0], &byte, 1) == 1) {
        ::execvp(argv[4], argv + 4);
      }
      ::_exit(127);
    }
    ::close(go[0]);
    cgroup.add_process(pid);
    if (::write(go[1], "x", 1) != 1) {
      throw std::system_error(errno, std::generic_category(), "start child");
    }
    ::close(go[1]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const Stats stats = cgroup.stats();
    fmt::print("cgroup v{} {}: cpu {} ns, memory peak {} bytes, OOM killed: {}\n", cgroup.version(),
               cgroup.path(), stats.cpu_usage_ns.value_or(0), stats.memory_peak.value_or(0),
               cgroup.oom_killed() ? "yes" : "no");
    // The handle kills what is left and removes the cgroup when it goes out of scope.
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_cgroup_limits: {}\n", e.what());
    return 1;
  }
}
