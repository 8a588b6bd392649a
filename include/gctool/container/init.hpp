// The container's init: the code that runs in the child between clone3 and execve, inside the
// new namespaces. It builds the root filesystem and switches to it while the parent places it in
// its cgroup and network, waits for the parent's go, takes the container's identity and executes
// the command. Any failure goes back to the parent as one
// {kind, errno, context} message and becomes an InitError there.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "gctool/container/spec.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/fs/rootfs.hpp"
#include "gctool/sys/security.hpp"

namespace gctool::container {

struct InitConfig {
  std::filesystem::path rootfs;  // where the overlay is mounted: containers/<id>/merged
  std::filesystem::path upper;
  std::filesystem::path work;
  std::vector<std::filesystem::path> layer_dirs;  // bottom to top
  std::vector<BindMount> binds;
  // Files the runtime wrote (hostname, hosts, resolv.conf) -> where they appear in the container.
  std::vector<std::pair<std::filesystem::path, std::string>> etc_files;
  bool read_only_rootfs = false;
  // kept, or scratch for a container removed when it exits: its upper layer is never synced.
  fs::UpperLayer upper_layer = fs::UpperLayer::kept;
  bool tty = false;
  std::string hostname;
  std::string user;
  std::string working_dir;
  std::vector<std::string> args;
  std::vector<std::string> env;  // without HOME, which comes from the container's /etc/passwd

  BorrowedFd sync;            // read end: one byte from the parent means "go" (in the cgroup
                              // and the network); read after the mounts, before security and exec
  BorrowedFd report;          // write end, close-on-exec: failure messages; EOF means exec'd
  BorrowedFd console_socket;  // with tty: the pty master goes to the parent through it
  BorrowedFd stdin_fd;        // without tty: becomes fd 0 (invalid: keep the inherited fd 0)
  // Capabilities, no_new_privs, seccomp, masked and read-only paths, prepared by the parent
  // (sys::parse_security); null: none applied (the process keeps every capability).
  const sys::SecurityOptions* security = nullptr;
};

// Runs in the child after clone3; never returns (execve or _exit).
[[noreturn]] void run_init(const InitConfig& config) noexcept;

// A failure of the container's init, reported by the child. what() is
// `container init: pivot_root: Invalid argument` or `container init: exec "x": No such file or
// directory`.
class InitError : public Error {
 public:
  InitError(int err, const std::string& context, bool exec_failed)
      : Error(err, "container init: " + context), exec_failed_(exec_failed) {}
  bool exec_failed() const noexcept { return exec_failed_; }
  // Docker's exit code: 127 for a command not found, 126 for one that cannot be executed, 125
  // for anything else.
  int exit_code() const noexcept;

 private:
  bool exec_failed_;
};

// Reads the init's report pipe until EOF. Throws InitError when the child reported a failure;
// returns normally once the child has exec'd (the close-on-exec write end closed).
void read_init_report(BorrowedFd report);

}  // namespace gctool::container
