// The kernel floor of a container start, for the start-latency benchmark (benchmarks/run):
//   floor [--memory BYTES] LOWERDIR SCRATCHDIR [CMD [ARG...]]
// does only what any runtime must do to start CMD (default /bin/true) in a container: an overlay
// of LOWERDIR with a fresh, unsynced ("volatile") upper and work dir under SCRATCHDIR, clone3 with
// the namespaces gctool uses (mount, pid, uts, ipc, net, and cgroup when the host has it), private
// propagation, pivot_root, a /proc mount, exec; then wait and remove the upper and work dirs.
// With --memory, the container also runs in a cgroup of its own with that memory limit, joined
// the cheapest way the host allows: created by clone3 inside it (CLONE_INTO_CGROUP) where the
// memory controller is on cgroup v2; on v1, the parent moves the child while the child mounts
// its root, so the migration's RCU grace period overlaps that work, and the child waits for it
// only before exec. The cgroup is removed after the wait. No state, no security settings: what a
// runtime adds to this is its own cost. Plain syscalls only, no gctool library: it must stay the
// floor whatever gctool does.
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

// The cgroup this run made, removed on every way out.
std::string made_cgroup;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "floor: %s: %s\n", what, std::strerror(errno));
  if (!made_cgroup.empty()) {
    ::rmdir(made_cgroup.c_str());
  }
  std::exit(125);
}

// In the child: errors are reported on stderr and become exit code 125.
[[noreturn]] void child_die(const char* what) {
  std::fprintf(stderr, "floor: container: %s: %s\n", what, std::strerror(errno));
  ::_exit(125);
}

void write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    die(path.c_str());
  }
  ::close(fd);
}

// The directory of the container's cgroup: on cgroup v2 when its root offers the memory
// controller, else in the v1 memory hierarchy.
struct Cgroup {
  std::string dir;
  bool v2 = false;
};

Cgroup make_cgroup(const std::string& limit) {
  Cgroup cgroup;
  const int controllers = ::open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY | O_CLOEXEC);
  if (controllers >= 0) {
    char buf[512] = {};
    const ssize_t n = ::read(controllers, buf, sizeof buf - 1);
    ::close(controllers);
    const std::string_view list(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    cgroup.v2 = list.find("memory") != std::string_view::npos;
  }
  const std::string name = "/floor-" + std::to_string(::getpid());
  cgroup.dir = (cgroup.v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory") + name;
  if (::mkdir(cgroup.dir.c_str(), 0755) != 0) {
    die("mkdir the cgroup");
  }
  made_cgroup = cgroup.dir;
  write_file(cgroup.dir + (cgroup.v2 ? "/memory.max" : "/memory.limit_in_bytes"), limit);
  return cgroup;
}

}  // namespace

int main(int argc, char** argv) {
  std::string memory;
  if (argc > 2 && std::string_view(argv[1]) == "--memory") {
    memory = argv[2];
    argc -= 2;
    argv += 2;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: floor [--memory BYTES] LOWERDIR SCRATCHDIR [CMD [ARG...]]\n");
    return 125;
  }
  const std::string lower = argv[1];
  const std::string scratch = argv[2];
  char default_cmd[] = "/bin/true";
  char* default_argv[] = {default_cmd, nullptr};
  char** cmd = argc > 3 ? argv + 3 : default_argv;
  Cgroup cgroup;
  int cgroup_fd = -1;
  // v1: the child reads this pipe's end of file once the parent has moved it.
  int joined[2] = {-1, -1};
  if (!memory.empty()) {
    cgroup = make_cgroup(memory);
    if (cgroup.v2) {
      cgroup_fd = ::open(cgroup.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (cgroup_fd < 0) {
        die("open the cgroup");
      }
    } else if (::pipe2(joined, O_CLOEXEC) != 0) {
      die("pipe2");
    }
  }

  const std::string run = scratch + "/" + std::to_string(::getpid());
  const std::string upper = run + "-upper";
  const std::string work = run + "-work";
  const std::string merged = run + "-merged";
  for (const auto* dir : {&upper, &work, &merged}) {
    if (::mkdir(dir->c_str(), 0755) != 0) {
      die("mkdir");
    }
  }
  const std::string options = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;

  std::uint64_t flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
  if (::access("/proc/self/ns/cgroup", F_OK) == 0) {
    flags |= CLONE_NEWCGROUP;
  }
  clone_args args{};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  }
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) {
    die("clone3");
  }
  if (pid == 0) {
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      child_die("make / private");
    }
    // "volatile": the upper dir is thrown away, so unmounting need not sync the host filesystem
    // (Linux 5.10); without it where the kernel lacks it.
    const std::string scratch_options = options + ",volatile";
    if (::mount("overlay", merged.c_str(), "overlay", 0, scratch_options.c_str()) != 0 &&
        ::mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) != 0) {
      child_die("mount overlay");
    }
    if (::chdir(merged.c_str()) != 0) {
      child_die("chdir");
    }
    if (::syscall(SYS_pivot_root, ".", ".") != 0) {
      child_die("pivot_root");
    }
    if (::umount2(".", MNT_DETACH) != 0) {
      child_die("detach the old root");
    }
    if (::chdir("/") != 0) {
      child_die("chdir /");
    }
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
      child_die("mount /proc");
    }
    if (joined[0] >= 0) {
      char byte = 0;
      ::close(joined[1]);
      if (::read(joined[0], &byte, 1) != 0) {
        child_die("wait to be moved into the cgroup");
      }
    }
    ::execv(cmd[0], cmd);
    child_die("exec");
  }
  if (joined[0] >= 0) {
    write_file(cgroup.dir + "/cgroup.procs", std::to_string(pid));
    ::close(joined[1]);
    ::close(joined[0]);
  }
  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0) {
    if (errno != EINTR) {
      die("waitpid");
    }
  }
  // The overlay went away with the container's mount namespace; it left its scratch directory
  // in the work dir, with a "volatile" marker.
  ::unlink((work + "/work/incompat/volatile/dirty").c_str());
  for (const char* inner : {"/work/incompat/volatile", "/work/incompat", "/work"}) {
    ::rmdir((work + inner).c_str());
  }
  for (const auto* dir : {&work, &upper, &merged}) {
    if (::rmdir(dir->c_str()) != 0) {
      die("rmdir");
    }
  }
  if (!made_cgroup.empty()) {
    const int removed = ::rmdir(made_cgroup.c_str());
    made_cgroup.clear();
    if (removed != 0) {
      die("rmdir the cgroup");
    }
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return 128 + WTERMSIG(status);
}
