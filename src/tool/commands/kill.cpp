// `gctool kill [-s SIGNAL] CONTAINER...`: signal the containers' main processes, SIGKILL by
// default, printing each name or ID as given.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/units.hpp"
#include "multi_container.hpp"

namespace gctool::tool {
namespace {

struct KillArgs {
  std::string signal = "KILL";
  std::vector<std::string> refs;
};

void kill(Globals& globals, const KillArgs& args) {
  const int sig = parse_signal(args.signal);
  const auto store = open_container_store(globals);
  report_broken_records(store);
  for_all_containers(globals, args.refs,
                     [&](const std::string& ref) { container::kill_container(store, ref, sig); });
}

void setup_kill(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("kill", "Kill one or more running containers");
  auto args = std::make_shared<KillArgs>();
  cmd->add_option("-s,--signal", args->signal, "Signal to send to the container");
  cmd->add_option("containers", args->refs, "Container names or IDs")->required();
  cmd->callback([args, &globals] { kill(globals, *args); });
}

GCTOOL_REGISTER_COMMAND(setup_kill, "kill");

}  // namespace
}  // namespace gctool::tool
