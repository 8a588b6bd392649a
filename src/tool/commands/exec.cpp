// `gctool exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD [ARG...]`: run a command in
// a running container, as `docker exec` does; the exit code is the command's.
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/api.hpp"
#include "gctool/container/exec.hpp"
#include "gctool/container/foreground.hpp"
#include "gctool/container/init.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/signals.hpp"
#include "gctool/io/sync_wait.hpp"

namespace gctool::tool {
namespace {

struct ExecOptions {
  bool interactive = false;
  bool tty = false;
  bool detach = false;
  std::vector<std::string> env;
  std::optional<std::string> workdir;
  std::optional<std::string> user;
};

int exec(const Globals& globals, const ExecOptions& o, const std::vector<std::string>& words) {
  if (words.size() < 2) {
    throw_invalid("\"exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
  }
  container::ExecSpec spec;
  spec.args.assign(words.begin() + 1, words.end());
  spec.env = container::expand_env_args(o.env, caller_env);
  spec.working_dir = o.workdir;
  spec.user = o.user;
  spec.tty = o.tty;
  spec.detach = o.detach;
  spec.stdin_fd = o.interactive ? BorrowedFd(0) : BorrowedFd();
  const auto store = open_container_store(globals);
  // Blocked from here on, so a signal sent while the process starts is forwarded, not fatal.
  std::optional<io::SignalSet> signals;
  if (!o.detach) {
    signals.emplace(container::kForwardedSignals);
  }
  try {
    io::Loop loop;
    auto process = io::sync_wait(loop, container::api::exec(loop, store, words.front(), spec));
    if (o.detach) {
      return 0;
    }
    const container::api::AttachOptions attach{signals->fd(), o.interactive};
    return io::sync_wait(loop, container::api::attach(loop, process, attach));
  } catch (const container::InitError& e) {
    std::fflush(stdout);
    print_error(e.what());
    return e.exit_code();
  }
}

void setup_exec(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("exec", "Execute a command in a running container");
  auto o = std::make_shared<ExecOptions>();
  cmd->add_flag("-i,--interactive", o->interactive, "Keep STDIN open");
  cmd->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
  cmd->add_flag("-d,--detach", o->detach, "Detached mode: run the command in the background");
  cmd->add_option("-e,--env", o->env, "Set environment variables (K=V, or K from this env)")
      ->allow_extra_args(false);
  cmd->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", o->user, "Username or UID (format: <name|uid>[:<group|gid>])");
  // CONTAINER and everything after it belong to the command: `exec c ls -l` must not parse -l.
  cmd->prefix_command();
  cmd->callback([cmd, o, &globals] { globals.exit_code = exec(globals, *o, cmd->remaining()); });
}

GCTOOL_REGISTER_COMMAND(setup_exec, "exec");

}  // namespace
}  // namespace gctool::tool
