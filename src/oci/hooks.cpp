#include "hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/pipe.hpp"
#include "gctool/sys/clone.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::oci {
namespace {

std::vector<char*> c_strings(const std::vector<std::string>& list) {
  std::vector<char*> out;
  for (const auto& s : list) {
    out.push_back(const_cast<char*>(s.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

void run_hook(const Hook& hook, const std::string& kind, const std::string& state, BorrowedFd pidfd,
              int namespaces) {
  auto [read_end, write_end] = make_pipe();
  auto args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  auto argv = c_strings(args);
  auto envp = c_strings(hook.env);
  auto child = sys::clone_with_pidfd(0);
  if (!child) {
    if (pidfd.valid() && ::setns(pidfd.get(), namespaces | CLONE_NEWNS) != 0) {
      ::_exit(126);
    }
    ::dup2(read_end.get(), 0);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  read_end.reset();
  // A hook may exit without reading its stdin.
  ::signal(SIGPIPE, SIG_IGN);
  try {
    write_all(write_end.borrow(), state, "the hook's stdin");
  } catch (const Error&) {
  }
  write_end.reset();
  if (hook.timeout) {
    pollfd p{child->pidfd.get(), POLLIN, 0};
    const int rc = ::poll(&p, 1, *hook.timeout * 1000);
    if (rc == 0) {
      sys::pidfd_signal(child->pidfd.borrow(), SIGKILL);
      sys::pidfd_wait(child->pidfd.borrow());
      throw Error(ETIMEDOUT, fmt::format("{} hook \"{}\" ran longer than {}s", kind, hook.path,
                                         *hook.timeout));
    }
  }
  const auto info = sys::pidfd_wait(child->pidfd.borrow());
  if (info.si_code != CLD_EXITED || info.si_status != 0) {
    throw Error(ECANCELED,
                fmt::format("{} hook \"{}\" failed with {} {}", kind, hook.path,
                            info.si_code == CLD_EXITED ? "exit status" : "signal", info.si_status));
  }
}

}  // namespace

void run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state,
               BorrowedFd pidfd, int namespaces) {
  for (const auto& hook : hooks) {
    run_hook(hook, kind, state, pidfd, namespaces);
  }
}

}  // namespace gctool::oci
