// The container's init for gctool-oci: the code between clone3 and execve. It waits for the
// parent to place it (cgroup, id maps, runtime hooks), builds the root filesystem from the
// config's mounts, pivots into it, reports "ready" by closing the report pipe, then blocks on
// the exec fifo until `start` and executes process.args.
#pragma once

#include <string>

#include "config.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/sys/security.hpp"

namespace gctool::oci {

// Bytes on the sync socket.
inline constexpr char kSyncGo = 'g';       // parent -> init: placed, hooks run; + the state JSON
inline constexpr char kSyncMounted = 'm';  // init -> parent: mounts done, before pivot_root
inline constexpr char kSyncPivot = 'p';    // parent -> init: createContainer hooks run

struct InitPlan {
  const Config* config = nullptr;
  sys::SecurityOptions security;
  std::string cgroup_path;
  int preserve_fds = 0;
  bool no_pivot = false;
  BorrowedFd sync;            // SOCK_SEQPACKET
  BorrowedFd report;          // write end; closed once ready
  BorrowedFd console_socket;  // with process.terminal
  BorrowedFd state_dir;       // O_PATH: holds exec.fifo
};

[[noreturn]] void run_container_init(const InitPlan& plan) noexcept;

// The first executable file named `file` in PATH (from env) inside the current root; `file`
// itself when it holds a '/'. Throws ENOENT `exec: "x": executable file not found in $PATH`.
std::string find_executable(const std::string& file, const std::vector<std::string>& env);

// The last steps of a process entering a container (the init and `exec`): rlimits, umask,
// security around the user switch, the working directory, HOME, then execve with every fd from
// 3 + preserve_fds on closed. Never returns; throws on failure before the execve.
[[noreturn]] void enter_process(const Process& process, const sys::SecurityOptions& security,
                                int preserve_fds, bool new_userns);

}  // namespace gctool::oci
