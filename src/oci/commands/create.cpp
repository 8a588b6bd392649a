// `gctool-oci create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID`:
// the container's process waits in its namespaces for `start`; nothing else stays behind.
#include <memory>

#include "../command.hpp"
#include "../container.hpp"

namespace gctool::oci {
namespace {

void add_create_flags(CLI::App* cmd, CreateOptions& o) {
  cmd->add_option("-b,--bundle", o.bundle, "The bundle directory (holds config.json)");
  cmd->add_option("--pid-file", o.pid_file, "Write the container process's pid here");
  cmd->add_option("--console-socket", o.console_socket,
                  "Unix socket that receives the pty master when process.terminal is set");
  cmd->add_option("--preserve-fds", o.preserve_fds, "Pass this many fds from 3 on to the process");
  cmd->add_flag("--no-pivot", o.no_pivot,
                "Move the root with MS_MOVE and chroot instead of pivot_root");
  bool ignored = false;
  cmd->add_flag("--no-new-keyring", ignored, "Accepted: no session keyring is created anyway");
  cmd->add_option("id", o.id, "Container ID")->required();
}

void setup_create(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("create", "Create a container that waits for `start`");
  auto o = std::make_shared<CreateOptions>();
  add_create_flags(cmd, *o);
  cmd->callback([o, &globals] { create_container(globals.root, *o); });
}

GCTOOL_OCI_COMMAND(setup_create);

}  // namespace
}  // namespace gctool::oci
