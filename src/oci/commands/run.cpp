// `gctool-oci run [--bundle DIR] [-d] ... ID`: create and start; in the foreground wait for the
// container's process, forward signals to it, delete the container and exit with its status.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "../command.hpp"
#include "../container.hpp"
#include "gctool/core/error.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::oci {
namespace {

struct RunArgs {
  CreateOptions create;
  bool detach = false;
};

int wait_forwarding_signals(BorrowedFd pidfd) {
  sigset_t set;
  sigemptyset(&set);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) {
    sigaddset(&set, sig);
  }
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  const UniqueFd signals(check(::signalfd(-1, &set, SFD_CLOEXEC), "signalfd"));
  for (;;) {
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      throw_errno("poll");
    }
    if ((fds[0].revents & POLLIN) != 0) {
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == sizeof info) {
        sys::pidfd_signal(pidfd, static_cast<int>(info.ssi_signo));
      }
    }
  }
  const auto info = sys::pidfd_wait(pidfd);
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

void run(Globals& globals, RunArgs& a) {
  auto created = create_container(globals.root, a.create);
  try {
    start_container(globals.root, created.state);
  } catch (...) {
    delete_container(globals.root, a.create.id, true);
    throw;
  }
  if (a.detach) {
    return;
  }
  globals.exit_code = wait_forwarding_signals(created.pidfd.borrow());
  delete_container(globals.root, a.create.id, true);
}

void setup_run(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("run", "Create and start a container");
  auto a = std::make_shared<RunArgs>();
  cmd->add_option("-b,--bundle", a->create.bundle, "The bundle directory (holds config.json)");
  cmd->add_option("--pid-file", a->create.pid_file, "Write the container process's pid here");
  cmd->add_option("--console-socket", a->create.console_socket,
                  "Unix socket that receives the pty master when process.terminal is set");
  cmd->add_option("--preserve-fds", a->create.preserve_fds,
                  "Pass this many fds from 3 on to the process");
  cmd->add_flag("--no-pivot", a->create.no_pivot, "Use MS_MOVE and chroot instead of pivot_root");
  bool ignored = false;
  cmd->add_flag("--no-new-keyring", ignored, "Accepted: no session keyring is created anyway");
  cmd->add_flag("-d,--detach", a->detach, "Return once the container runs");
  cmd->add_option("id", a->create.id, "Container ID")->required();
  cmd->callback([a, &globals] { run(globals, *a); });
}

GCTOOL_OCI_COMMAND(setup_run);

}  // namespace
}  // namespace gctool::oci
