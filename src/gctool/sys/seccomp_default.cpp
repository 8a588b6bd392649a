// gctool's default seccomp profile: an allow-list with Docker's semantics. Whatever is not listed
// here fails with EPERM, so a system call added to the kernel after this table is refused until
// it is reviewed and added, rather than allowed because nobody thought to deny it.
//
// The table follows Docker's default profile (github.com/moby/profiles, seccomp v0.2.3: kernels
// up to 6.13, the lsm_* calls behind CAP_SYS_ADMIN, socketcall allowed). When Docker's profile
// changes, change this table and the test that pins it (tests/sys/test_seccomp.cpp).
#include <sched.h>
#include <seccomp.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <vector>

#include "gctool/sys/seccomp_profile.hpp"

namespace gctool::sys {
namespace {

// Every container may make these calls, with any arguments. Names the running libseccomp does not
// know are resolved by compile_seccomp (seccomp.cpp) or left out, which refuses them.
// clang-format off
constexpr std::string_view kAllowed[] = {
    // Files and directories, by path or descriptor.
    "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "fchown", "fchownat", "lchown", "chown32", "fchown32", "lchown32",
    "creat", "open", "openat", "openat2", "close", "close_range", "name_to_handle_at", "link",
    "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "rename", "renameat", "renameat2",
    "mkdir", "mkdirat", "rmdir", "mknod", "mknodat", "readlink", "readlinkat", "stat", "lstat",
    "fstat", "newfstatat", "statx", "stat64", "lstat64", "fstat64", "fstatat64", "statfs",
    "fstatfs", "statfs64", "fstatfs64", "truncate", "ftruncate", "truncate64", "ftruncate64",
    "umask", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat", "getdents",
    "getdents64", "statmount", "listmount",
    // Extended attributes.
    "getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr", "fsetxattr",
    "setxattrat", "listxattr", "llistxattr", "flistxattr", "listxattrat", "removexattr",
    "lremovexattr", "fremovexattr", "removexattrat",
    // Reading and writing descriptors.
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "_llseek", "dup", "dup2", "dup3", "fcntl", "fcntl64", "flock", "ioctl",
    "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "fallocate", "fadvise64",
    "fadvise64_64", "readahead", "copy_file_range", "sendfile", "sendfile64", "splice", "tee",
    "vmsplice", "pipe", "pipe2", "cachestat",
    // Waiting on descriptors, AIO (not io_uring: Docker refuses it since 2023) and event fds.
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll",
    "ppoll_time64", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait",
    "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "inotify_init",
    "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark", "signalfd",
    "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64",
    // Memory.
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock",
    "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages", "membarrier", "memfd_create",
    "memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect", "map_shadow_stack", "mseal",
    // Processes and threads. ptrace and process_vm_* are safe from kernel 4.8 on (older kernels
    // let ptrace bypass seccomp); gctool needs newer kernels anyway.
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
    "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
    "set_tid_address", "set_robust_list", "get_robust_list", "futex", "futex_time64", "futex_waitv",
    "futex_wait", "futex_wake", "futex_requeue", "rseq", "restart_syscall", "prctl",
    "get_thread_area", "set_thread_area", "getcpu", "getrusage", "getrlimit", "setrlimit",
    "prlimit64", "ugetrlimit", "getpriority", "setpriority", "ioprio_get", "ioprio_set",
    "pidfd_open", "pidfd_send_signal", "process_mrelease", "ptrace", "process_vm_readv",
    "process_vm_writev", "uretprobe", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
    "landlock_restrict_self", "capget", "capset", "riscv_hwprobe",
    // Scheduling.
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
    "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    // Credentials (the kernel checks the capabilities they need).
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid",
    "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
    "getuid32", "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32", "getgroups32",
    "setuid32", "setgid32", "setreuid32", "setregid32", "setresuid32", "setresgid32", "setgroups32",
    "setfsuid32", "setfsgid32",
    // Signals.
    "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigpending", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "sigaltstack", "sigprocmask", "sigreturn", "pause",
    // Time and timers (setting the clock needs CAP_SYS_TIME: below; adjtimex and clock_adjtime
    // only read without it).
    "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres",
    "clock_getres_time64", "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "adjtimex",
    "clock_adjtime", "clock_adjtime64", "alarm", "getitimer", "setitimer", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "times", "uname", "sysinfo", "getrandom",
    // Sockets (socket() itself is filtered by family below).
    "accept", "accept4", "bind", "connect", "listen", "getsockname", "getpeername", "getsockopt",
    "setsockopt", "shutdown", "socketpair", "socketcall", "send", "sendto", "sendmsg", "sendmmsg",
    "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",
    // System V and POSIX IPC (namespaced).
    "ipc", "msgget", "msgctl", "msgsnd", "msgrcv", "semget", "semctl", "semop", "semtimedop",
    "semtimedop_time64", "shmget", "shmat", "shmctl", "shmdt", "mq_open", "mq_unlink",
    "mq_getsetattr", "mq_notify", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
    "mq_timedreceive_time64",
    // Calls of one architecture.
#if defined(__x86_64__)
    "arch_prctl", "modify_ldt",
#elif defined(__aarch64__)
    "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
    "set_tls",
#endif
};

// Calls that a capability of the container (its bounding set, as Docker reads it) allows:
// --cap-add gives them, and --privileged has no filter at all.
struct CapabilityGroup {
  std::string_view capability;
  std::vector<std::string_view> names;
};

std::vector<CapabilityGroup> capability_groups() {
  return {
      {"SYS_ADMIN", {"mount", "umount", "umount2", "mount_setattr", "move_mount", "open_tree",
                     "fsopen", "fsconfig", "fsmount", "fspick", "unshare", "setns", "clone",
                     "clone3", "sethostname", "setdomainname", "bpf", "perf_event_open", "syslog",
                     "quotactl", "quotactl_fd", "fanotify_init", "lookup_dcookie",
                     "lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules"}},
      {"BPF", {"bpf"}},
      {"PERFMON", {"perf_event_open"}},
      {"SYSLOG", {"syslog"}},
      {"DAC_READ_SEARCH", {"open_by_handle_at"}},
      {"SYS_BOOT", {"reboot"}},
      {"SYS_CHROOT", {"chroot"}},
      {"SYS_MODULE", {"init_module", "finit_module", "delete_module"}},
      {"SYS_PACCT", {"acct"}},
      {"SYS_PTRACE", {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                      "process_vm_writev", "ptrace"}},
      {"SYS_RAWIO", {"iopl", "ioperm"}},
      {"SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
      {"SYS_TTY_CONFIG", {"vhangup"}},
      {"SYS_NICE", {"get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind"}},
  };
}
// clang-format on

// personality() values a container may set: plain Linux, PER_LINUX32, UNAME26 with either, and
// the query 0xffffffff. Flags such as ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC stay refused.
constexpr std::uint64_t kPersonalities[] = {PER_LINUX, PER_LINUX32, UNAME26,
                                            0x0020008 /* UNAME26 | PER_LINUX32 */, 0xffffffff};

// Namespace flags clone() may not carry without CAP_SYS_ADMIN. CLONE_NEWTIME is not among them:
// its bit is part of the exit signal byte of clone().
constexpr std::uint64_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                               CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                               CLONE_NEWCGROUP;

std::vector<std::uint32_t> native_arches() {
#if defined(__x86_64__)
  return {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32};
#elif defined(__aarch64__)
  return {SCMP_ARCH_AARCH64, SCMP_ARCH_ARM};
#else
  return {};
#endif
}

SeccompRule allow(std::string_view name, SeccompArg arg) {
  return {{std::string(name)}, SCMP_ACT_ALLOW, {arg}};
}

}  // namespace

SeccompProfile default_seccomp_profile(CapMask caps) {
  SeccompProfile profile;
  profile.default_action = SCMP_ACT_ERRNO(EPERM);
  profile.arches = native_arches();

  SeccompRule allowed{{std::begin(kAllowed), std::end(kAllowed)}, SCMP_ACT_ALLOW, {}};
  for (const auto& group : capability_groups()) {
    if ((caps & cap_bit(parse_capability(group.capability))) != 0) {
      allowed.names.insert(allowed.names.end(), group.names.begin(), group.names.end());
    }
  }
  std::sort(allowed.names.begin(), allowed.names.end());
  allowed.names.erase(std::unique(allowed.names.begin(), allowed.names.end()), allowed.names.end());
  profile.rules.push_back(std::move(allowed));

  // socket() for every family but AF_ALG (kernel crypto, a history of bugs) and AF_VSOCK (the
  // hypervisor's services). 32-bit x86 reaches socket() through socketcall, as in Docker.
  static_assert(AF_VSOCK == AF_ALG + 2, "AF_NFC alone lies between AF_ALG and AF_VSOCK");
  profile.rules.push_back(allow("socket", {0, AF_ALG, 0, SeccompOp::lt}));
  profile.rules.push_back(allow("socket", {0, AF_ALG + 1, 0, SeccompOp::eq}));
  profile.rules.push_back(allow("socket", {0, AF_VSOCK, 0, SeccompOp::gt}));
  for (const auto persona : kPersonalities) {
    profile.rules.push_back(allow("personality", {0, persona, 0, SeccompOp::eq}));
  }
  if ((caps & cap_bit(parse_capability("SYS_ADMIN"))) == 0) {
    profile.rules.push_back(allow("clone", {0, kCloneNamespaceFlags, 0, SeccompOp::masked_eq}));
    // clone3 passes its flags in memory, out of the filter's reach: ENOSYS makes libc fall back
    // to clone, whose flags are checked above.
    profile.rules.push_back({{"clone3"}, SCMP_ACT_ERRNO(ENOSYS), {}});
  }
  return profile;
}

}  // namespace gctool::sys
