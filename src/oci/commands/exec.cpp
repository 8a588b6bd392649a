// `gctool-oci exec [--process FILE | ARGS...] [-d] [--pid-file F] [--console-socket S] [-t]
// [--cwd D] [-e K=V] [-u UID[:GID]] ID`: another process in a running container. A helper joins
// the container's cgroup and namespaces (one setns on the init's pidfd) and clones the process
// with CLONE_PARENT, so that it is born in the container's pid namespace as our own child.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include <fmt/format.h>

#include "../cgroup_setup.hpp"
#include "../command.hpp"
#include "../container.hpp"
#include "../init.hpp"
#include "gctool/container/init.hpp"
#include "gctool/core/atomic_file.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/pipe.hpp"
#include "gctool/fs/safe_path.hpp"
#include "gctool/sys/clone.hpp"
#include "gctool/sys/pidfd.hpp"
#include "gctool/sys/pty.hpp"

namespace gctool::oci {
namespace {

struct ExecArgs {
  std::string id;
  std::vector<std::string> args;
  std::string process_file;
  bool detach = false;
  bool tty = false;
  std::string pid_file;
  std::string console_socket;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;
  std::vector<std::string> caps;
  bool no_new_privs = false;
  int preserve_fds = 0;
};

Process exec_process(const State& state, const ExecArgs& a) {
  if (!a.process_file.empty()) {
    return parse_process(load_json(a.process_file));
  }
  if (a.args.empty()) {
    throw_invalid("exec: no command given (ARGS or --process)");
  }
  Process p = parse_process(state.config.at("process"));
  p.args = a.args;
  p.terminal = a.tty;
  for (const auto& e : a.env) {
    const auto key = e.substr(0, e.find('='));
    std::erase_if(p.env, [&key](const std::string& v) { return v.substr(0, v.find('=')) == key; });
    p.env.push_back(e);
  }
  if (!a.cwd.empty()) {
    p.cwd = a.cwd;
  }
  if (!a.user.empty()) {
    const auto colon = a.user.find(':');
    p.uid = static_cast<uid_t>(std::stoul(a.user.substr(0, colon)));
    p.gid =
        colon == std::string::npos ? 0 : static_cast<gid_t>(std::stoul(a.user.substr(colon + 1)));
  }
  for (const auto& cap : a.caps) {
    const auto bit = sys::cap_bit(sys::parse_capability(cap));
    p.caps.bounding |= bit;
    p.caps.effective |= bit;
    p.caps.permitted |= bit;
  }
  p.no_new_privileges = p.no_new_privileges || a.no_new_privs;
  return p;
}

int exec(Globals& globals, const ExecArgs& a) {
  const auto state = load_state(globals.root, a.id);
  const UniqueFd init = open_process(state);
  if (!init.valid() || status_of(globals.root, state) == "stopped") {
    throw_invalid("cannot exec in a stopped container \"{}\"", a.id);
  }
  const Process process = exec_process(state, a);
  std::optional<nlohmann::json> seccomp;
  if (state.config.contains("linux") && state.config.at("linux").contains("seccomp")) {
    seccomp = state.config.at("linux").at("seccomp");
  }
  const auto security = security_of(globals.root, process, seccomp);
  if (process.terminal && a.console_socket.empty()) {
    throw_invalid("exec: a terminal needs --console-socket");
  }
  UniqueFd console;
  if (process.terminal) {
    console = connect_console_socket(a.console_socket);
  }
  const bool userns = (state.namespaces & CLONE_NEWUSER) != 0;
  auto report = make_pipe();
  auto pid_pipe = make_pipe();
  auto helper = sys::clone_with_pidfd(0);
  if (!helper) {
    container::run_child(report.write.borrow(), [&] {
      container::reset_signals();
      check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
      join_cgroup(state.cgroup_path, ::getpid());
      // A container without a mount namespace of its own is its init's chroot: enter it too.
      UniqueFd init_root;
      if ((state.namespaces & CLONE_NEWNS) == 0) {
        init_root = UniqueFd(check(::open(fmt::format("/proc/{}/root", state.pid).c_str(),
                                          O_PATH | O_DIRECTORY | O_CLOEXEC),
                                   "open the container's root"));
      }
      check(::setns(init.get(), static_cast<int>(state.namespaces)),
            "setns into the container's namespaces");
      if (init_root) {
        check(::fchdir(init_root.get()), "chdir to the container's root");
        check(::chroot("."), "chroot to the container's root");
      }
      auto child = sys::clone_with_pidfd(CLONE_PARENT);
      if (!child) {
        container::run_child(report.write.borrow(), [&] {
          check(::setsid(), "setsid");
          if (process.terminal) {
            auto pty = sys::open_pty("/dev/ptmx");
            sys::send_fd(console.borrow(), pty.master);
            sys::make_controlling_tty(pty.slave);
          }
          enter_process(process, security, a.preserve_fds, userns);
        });
      }
      const pid_t pid = child->pid;
      write_all(pid_pipe.write.borrow(),
                std::string_view(reinterpret_cast<const char*>(&pid), sizeof pid),
                "the exec pid pipe");
      ::_exit(0);
    });
  }
  report.write.reset();
  pid_pipe.write.reset();
  const auto helper_exit = sys::pidfd_wait(helper->pidfd.borrow());
  pid_t pid = 0;
  const auto got = ::read(pid_pipe.read.get(), &pid, sizeof pid);
  if (got != sizeof pid || helper_exit.si_status != 0) {
    container::read_init_report(report.read.borrow(), "exec");
    throw Error(EPROTO, "exec: the helper ended without a report");
  }
  auto pidfd = sys::try_pidfd_open(pid);
  container::read_init_report(report.read.borrow(), "exec");
  if (!a.pid_file.empty()) {
    write_file_atomic(std::filesystem::absolute(a.pid_file), std::to_string(pid), Durability::fast);
  }
  if (a.detach || !pidfd) {
    return 0;
  }
  const auto info = sys::pidfd_wait(pidfd->borrow());
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

void setup_exec(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("exec", "Run another process in a container");
  auto a = std::make_shared<ExecArgs>();
  cmd->add_option("-p,--process", a->process_file, "process.json with the process to run");
  cmd->add_flag("-d,--detach", a->detach, "Return once the process runs");
  cmd->add_flag("-t,--tty", a->tty, "Give the process a terminal (needs --console-socket)");
  cmd->add_option("--pid-file", a->pid_file, "Write the process's pid here");
  cmd->add_option("--console-socket", a->console_socket, "Receives the pty master");
  cmd->add_option("--cwd", a->cwd, "Working directory");
  // One value per flag, as runc's: `-e K=V ID CMD` must leave ID and CMD alone.
  cmd->add_option("-e,--env", a->env, "K=V to set")->allow_extra_args(false);
  cmd->add_option("-u,--user", a->user, "UID[:GID]");
  cmd->add_option("-c,--cap", a->caps, "Capability to add")->allow_extra_args(false);
  cmd->add_flag("--no-new-privs", a->no_new_privs, "Set no_new_privs");
  cmd->add_option("--preserve-fds", a->preserve_fds, "Pass this many fds from 3 on");
  std::string ignored;
  cmd->add_option("--apparmor,--process-label", ignored, "Refused when given (no LSM here)");
  cmd->add_option("id", a->id, "Container ID")->required();
  cmd->add_option("args", a->args, "Command and arguments");
  cmd->positionals_at_end(true);
  cmd->callback([a, &globals] { globals.exit_code = exec(globals, *a); });
}

GCTOOL_OCI_COMMAND(setup_exec);

}  // namespace
}  // namespace gctool::oci
