// The process of one health check (`gctool __health-exec ROOT ID`): the part of a check that
// needs all of gctool (the container's record, its security settings, exec), so that the
// supervisor that schedules checks stays small.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "gctool/container/exec.hpp"
#include "gctool/container/health.hpp"
#include "gctool/container/init.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/io/process.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::container {

void run_health_exec(int argc, const char* const* argv) {
  if (argc != 4 || argv[1] != kHealthExecVerb) {
    ::_exit(125);
  }
  try {
    // Blocked before the command exists: the supervisor's SIGTERM is read from the signalfd.
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    check(::sigprocmask(SIG_BLOCK, &term, nullptr), "block SIGTERM");
    const UniqueFd signals(check(::signalfd(-1, &term, SFD_CLOEXEC), "signalfd"));
    const ContainerStore store(argv[2]);
    const Record record = inspect_container(store, argv[3]);
    ExecSpec spec;
    if (health_enabled(record.spec.healthcheck)) {
      spec.args = health_command(*record.spec.healthcheck);
    }
    const auto process = exec_in_container(store, record.id, spec);
    pollfd fds[2] = {{process.pidfd().get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    if ((fds[0].revents & POLLIN) == 0) {
      // The timeout: the command goes with this process.
      sys::pidfd_signal(process.pidfd(), SIGKILL);
    }
    const int code = io::exit_code(sys::pidfd_wait(process.pidfd()));
    process.record_exit(code);  // as Docker's checks: exec_create, exec_start, exec_die
    ::_exit(code);
  } catch (const InitError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    ::_exit(e.exit_code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    ::_exit(125);
  }
}

}  // namespace gctool::container
