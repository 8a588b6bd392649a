// The kernel floor of a container start, for the start-latency benchmark (benchmarks/run):
//   floor LOWERDIR SCRATCHDIR [CMD [ARG...]]
// does only what any runtime must do to start CMD (default /bin/true) in a container: an overlay
// of LOWERDIR with a fresh, unsynced ("volatile") upper and work dir under SCRATCHDIR, clone3 with
// the namespaces gctool uses (mount, pid, uts, ipc, net, and cgroup when the host has it), private
// propagation, pivot_root, a /proc mount, exec; then wait and remove the upper and work dirs. No
// cgroup, no state, no security settings: what a runtime adds to this is its own cost. Plain
// syscalls only, no gctool library: it must stay the floor whatever gctool does.
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

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "floor: %s: %s\n", what, std::strerror(errno));
  std::exit(125);
}

// In the child: errors are reported on stderr and become exit code 125.
[[noreturn]] void child_die(const char* what) {
  std::fprintf(stderr, "floor: container: %s: %s\n", what, std::strerror(errno));
  ::_exit(125);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: floor LOWERDIR SCRATCHDIR [CMD [ARG...]]\n");
    return 125;
  }
  const std::string lower = argv[1];
  const std::string scratch = argv[2];
  char default_cmd[] = "/bin/true";
  char* default_argv[] = {default_cmd, nullptr};
  char** cmd = argc > 3 ? argv + 3 : default_argv;

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
    ::execv(cmd[0], cmd);
    child_die("exec");
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
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return 128 + WTERMSIG(status);
}
