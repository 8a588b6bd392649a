// `gctool-oci kill [--all] ID [SIGNAL]`: signal the container's process (SIGTERM by default),
// or with --all every process of its cgroup.
#include <signal.h>

#include <memory>

#include "../cgroup_setup.hpp"
#include "../command.hpp"
#include "../state.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/units.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::oci {
namespace {

struct KillArgs {
  std::string id;
  std::string signal = "SIGTERM";
  bool all = false;
};

void kill(const Globals& globals, const KillArgs& a) {
  const int sig = parse_signal(a.signal);
  const auto state = load_state(globals.root, a.id);
  const UniqueFd pidfd = open_process(state);
  if (!pidfd.valid()) {
    throw_invalid("container \"{}\" is not running", a.id);
  }
  if (a.all) {
    for (const pid_t pid : cgroup_pids(state.cgroup_path)) {
      ::kill(pid, sig);
    }
  }
  if (!sys::pidfd_signal(pidfd.borrow(), sig) && !a.all) {
    throw_invalid("container \"{}\" is not running", a.id);
  }
}

void setup_kill(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("kill", "Send a signal to a container's process");
  auto a = std::make_shared<KillArgs>();
  cmd->add_flag("-a,--all", a->all, "Signal every process of the container");
  cmd->add_option("id", a->id, "Container ID")->required();
  cmd->add_option("signal", a->signal, "Signal name or number (default SIGTERM)");
  cmd->callback([a, &globals] { kill(globals, *a); });
}

GCTOOL_OCI_COMMAND(setup_kill);

}  // namespace
}  // namespace gctool::oci
