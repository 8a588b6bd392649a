// gctool-init: what `run --init` runs as the container's pid 1, bound read-only at
// /sbin/gctool-init as Docker binds docker-init. It starts the command as its child, forwards
// the signals it receives to it, reaps every process that ends up its child (orphans would stay
// zombies under a command that never waits), and exits with the command's status.
// Usage: gctool-init -- COMMAND [ARG...]
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace {

// Raised by the init's own faults, never forwarded; and the terminal stops, which the init
// ignores (it reads and writes nothing).
constexpr int kOwnSignals[] = {SIGFPE,  SIGILL, SIGSEGV, SIGBUS, SIGABRT,
                               SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU};

// The command's status as a shell reports it: its exit code, or 128 + the signal that killed it.
int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

[[noreturn]] void run_command(char** argv, const sigset_t& mask) {
  // With a terminal, the command leads the foreground process group: ^C and job control reach
  // it, not the init.
  if (::isatty(0) == 1) {
    ::setpgid(0, 0);
    ::tcsetpgrp(0, ::getpid());
  }
  for (const int sig : kOwnSignals) {
    ::signal(sig, SIG_DFL);
  }
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  ::execvp(argv[0], argv);
  const int err = errno;
  std::fprintf(stderr, "gctool-init: exec %s: %s\n", argv[0], std::strerror(err));
  ::_exit(err == ENOENT ? 127 : 126);
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  if (first < argc && std::strcmp(argv[first], "--") == 0) {
    ++first;
  }
  if (first >= argc) {
    std::fprintf(stderr, "usage: gctool-init -- COMMAND [ARG...]\n");
    return 125;
  }
  // Orphans come to the init also where it is not pid 1 (--pid host).
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Every other signal is blocked and taken by sigwaitinfo: blocked signals reach a pid 1 that
  // has no handler, which the kernel would otherwise drop.
  sigset_t forwarded;
  sigset_t original;
  sigfillset(&forwarded);
  for (const int sig : kOwnSignals) {
    sigdelset(&forwarded, sig);
  }
  ::signal(SIGTTIN, SIG_IGN);
  ::signal(SIGTTOU, SIG_IGN);
  ::sigprocmask(SIG_SETMASK, &forwarded, &original);
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("gctool-init: fork");
    return 125;
  }
  if (child == 0) {
    run_command(argv + first, original);
  }
  for (;;) {
    siginfo_t info{};
    const int sig = ::sigwaitinfo(&forwarded, &info);
    if (sig < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::perror("gctool-init: sigwaitinfo");
      return 125;
    }
    if (sig != SIGCHLD) {
      ::kill(child, sig);
      continue;
    }
    // One SIGCHLD may stand for several exits.
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) {
        break;
      }
      if (pid == child) {
        return exit_code(status);
      }
    }
  }
}
