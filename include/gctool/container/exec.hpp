// `exec`: start another process in a running container. It joins every namespace of the
// container's pid 1 (one setns on its pidfd) and its cgroup, takes the container's environment
// (plus extra variables), working directory, user, rlimits, oom_score_adj and security settings
// (capabilities, no_new_privs, seccomp) and runs the argv as given, without a shell.
//
// The caller forks a helper that joins the cgroup, becomes non-dumpable and calls setns; joining
// a pid namespace only applies to children, so the helper clones the process itself with
// CLONE_PARENT: the process is born inside the container's pid namespace as the caller's own
// child, which the caller waits for through a pidfd. It stays non-dumpable until execve, so
// nothing in the container can open the gctool binary through /proc/PID/exe (CVE-2019-5736).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/container/store.hpp"
#include "gctool/core/event_journal.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::container {

struct ExecSpec {
  std::vector<std::string> args;           // argv; args[0] is looked up in the container's PATH
  std::vector<std::string> env;            // "K=V" over the container's environment
  std::optional<std::string> working_dir;  // default: the container's WorkingDir; must exist
  std::optional<std::string> user;         // default: the container's User
  bool tty = false;                        // a pty from the container's devpts
  // Without tty: the process's fd 0; invalid: /dev/null. Its fds 1 and 2 are the caller's.
  BorrowedFd stdin_fd;
  // The process outlives the caller: stdin, stdout and stderr are /dev/null (tty is ignored).
  bool detach = false;
};

// A process exec started: the caller's child until it is reaped.
class ExecProcess {
 public:
  // die: Docker's exec_die event of the process (execID, the container's attributes), recorded
  // in the journal of `root` by record_exit().
  ExecProcess(pid_t pid, UniqueFd pidfd, UniqueFd console, std::filesystem::path root = {},
              Event die = {}) noexcept
      : pid_(pid),
        pidfd_(std::move(pidfd)),
        console_(std::move(console)),
        root_(std::move(root)),
        die_(std::move(die)) {}

  pid_t pid() const noexcept { return pid_; }  // in the caller's pid namespace
  BorrowedFd pidfd() const noexcept { return pidfd_.borrow(); }
  // With tty: the pty master.
  BorrowedFd console() const noexcept { return console_.borrow(); }

  // Records the exec_die event with the exit code, as Docker does when an exec'd process ends
  // (api::attach and api::wait call it).
  void record_exit(int exit_code) const noexcept;

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd console_;
  std::filesystem::path root_;
  Event die_;
};

// Starts spec.args in the running container ref names and returns once execve has succeeded.
// Throws an invalid-input Error `container NAME is not running` (or `is restarting`) when it has
// no live pid 1, and InitError (prefix "exec", see InitError::exit_code) when the process could
// not be set up or its command not executed. The caller must be single-threaded (it forks).
ExecProcess exec_in_container(const ContainerStore& store, std::string_view ref,
                              const ExecSpec& spec);

}  // namespace gctool::container
