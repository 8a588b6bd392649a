// The container's init: the code that runs in the child between clone3 and execve, inside the
// new namespaces. It builds the root filesystem and switches to it while the parent places it in
// its cgroup and network, waits for the parent's go, takes the container's identity and executes
// the command. Any failure goes back to the parent as one
// {kind, errno, context} message and becomes an InitError there.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gctool/container/spec.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/fs/rootfs.hpp"
#include "gctool/sys/security.hpp"

namespace gctool::container {

// The container's command as a process inside the container takes it on: the last steps of the
// init, repeated by `exec` for each process it starts in a running container.
struct CommandConfig {
  std::string user;
  std::string working_dir;
  // run creates a missing WorkingDir, as Docker does; exec requires it to exist, as runc does.
  bool create_working_dir = true;
  std::vector<std::string> args;
  std::vector<std::string> env;        // without HOME, which comes from the container's /etc/passwd
  std::vector<Ulimit> ulimits;         // --ulimit, set while still root
  std::vector<std::string> group_add;  // --group-add: more supplementary groups
  // Capabilities, no_new_privs, seccomp (and for the init masked and read-only paths), prepared by
  // the parent (sys::parse_security); null: none applied (the process keeps every capability).
  const sys::SecurityOptions* security = nullptr;
};

// A cgroup filesystem the init mounts under /sys/fs/cgroup: cgroup2 at /sys/fs/cgroup itself (dir
// empty), or one v1 hierarchy at /sys/fs/cgroup/<dir> with its controllers as options.
struct CgroupMount {
  std::string dir;
  std::string fstype;
  std::string options;
};

struct InitConfig {
  std::filesystem::path rootfs;  // where the overlay is mounted: containers/<id>/merged
  std::filesystem::path upper;
  std::filesystem::path work;
  std::vector<std::filesystem::path> layer_dirs;  // bottom to top
  std::vector<BindMount> binds;
  std::vector<TmpfsMount> tmpfs;
  std::int64_t shm_size = kDefaultShmSize;
  std::vector<DeviceNode> devices;  // --device nodes, made after /dev
  // Files the runtime wrote (hostname, hosts, resolv.conf) -> where they appear in the container.
  std::vector<std::pair<std::filesystem::path, std::string>> etc_files;
  bool read_only_rootfs = false;
  // kept, or scratch for a container removed when it exits: its upper layer is never synced.
  fs::UpperLayer upper_layer = fs::UpperLayer::kept;
  bool own_netns = true;  // a new network namespace, whose loopback the init brings up
  bool tty = false;
  std::string hostname;
  std::string domainname;    // empty: left as the new UTS namespace has it ("(none)")
  bool set_hostname = true;  // false in the host's UTS namespace (--uts host)
  // --ipc host or container:NAME: the IPC namespace to join (an nsfd; invalid: the container's
  // own) and the /dev/shm that goes with it (empty: a new tmpfs).
  BorrowedFd ipc_namespace;
  BorrowedFd net_namespace;  // --network container:NAME: the network namespace to join
  std::filesystem::path shm_source;
  // --init: gctool-init on the host, bound read-only at kInitPath; the command starts with it.
  std::filesystem::path init_binary;
  std::map<std::string, std::string> sysctls;  // written once the network is in place
  // /sys/fs/cgroup: mounted in a cgroup namespace of the init's own, made once it is in its
  // cgroup, so that each shows the container's cgroup as its root; empty: nothing is mounted.
  std::vector<CgroupMount> cgroup_mounts;
  bool cgroup_writable = false;  // --privileged: read-write, as Docker
  // --cgroupns host: no namespace; on v1 each hierarchy shows the container's cgroup, this path
  // (bound over the mount, as runc does), on v2 the host's whole tree, as Docker shows it.
  bool cgroupns_host = false;
  std::string cgroup_path;
  std::optional<int> oom_score_adj;  // --oom-score-adj, written before anything else
  CommandConfig command;

  BorrowedFd sync;            // read end: one byte from the parent means "go" (in the cgroup
                              // and the network); read after the mounts, before security and exec
  BorrowedFd report;          // write end, close-on-exec: failure messages; EOF means exec'd
  BorrowedFd console_socket;  // with tty: the pty master goes to the parent through it
  BorrowedFd stdin_fd;        // without tty: becomes fd 0 (invalid: keep the inherited fd 0)
};

// Where --init's gctool-init appears in the container, as Docker's docker-init.
inline constexpr std::string_view kInitPath = "/sbin/gctool-init";

// Runs in the child after clone3; never returns (execve or _exit).
[[noreturn]] void run_init(const InitConfig& config) noexcept;

// The building blocks of run_init that exec's child processes share.

// Default dispositions for every signal and an empty signal mask.
void reset_signals() noexcept;

// Runs body in a child process between fork and execve: an exception it throws is sent on
// `report` as one message (see read_init_report) and the child exits with 125. Never returns.
[[noreturn]] void run_child(BorrowedFd report, const std::function<void()>& body) noexcept;

// The last steps of the init, in a process already in the container's namespaces and root: the
// security settings around the switch to the user (see gctool/sys/security.hpp), the working
// directory checked inside the root, HOME from /etc/passwd, every fd from 3 on closed, then execve
// with the container's PATH. Throws on failure; a failed execve is reported as such and exits.
[[noreturn]] void exec_container_command(BorrowedFd report, const CommandConfig& command);

// A failure of the container's init, reported by the child. what() is
// `container init: pivot_root: Invalid argument` or `container init: exec "x": No such file or
// directory`.
class InitError : public Error {
 public:
  // `who` prefixes the message: "container init", or "exec" for a process exec starts.
  InitError(int err, const std::string& context, bool exec_failed,
            std::string_view who = "container init")
      : Error(err, std::string(who) + ": " + context), exec_failed_(exec_failed) {}
  bool exec_failed() const noexcept { return exec_failed_; }
  // Docker's exit code: 127 for a command not found, 126 for one that cannot be executed, 125
  // for anything else.
  int exit_code() const noexcept;

 private:
  bool exec_failed_;
};

// Reads the init's report pipe until EOF. Throws InitError (prefixed with `who`) when the child
// reported a failure; returns normally once the child has exec'd (the close-on-exec write end
// closed).
void read_init_report(BorrowedFd report, std::string_view who = "container init");

}  // namespace gctool::container
