// `gctool start [-a] [-i] CONTAINER...`: start created or exited containers, with the same
// filesystem, each under a new supervisor, printing each name or ID as given; with -a (or -i)
// one container runs attached, in this process, and the exit code is its own.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/foreground.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"
#include "run_options.hpp"

namespace gctool::tool {
namespace {

struct StartOptions {
  bool attach = false;
  bool interactive = false;
  std::vector<std::string> refs;
};

int start_attached(const Globals& globals, const StartOptions& o) {
  if (o.refs.size() != 1) {
    throw_invalid("you cannot start and attach multiple containers at once");
  }
  // Blocked before the container starts, so that a signal is forwarded to it, not fatal.
  io::SignalSet signals(container::kForwardedSignals);
  const auto store = open_container_store(globals);
  const auto record = container::inspect_container(store, o.refs.front());
  auto container = container::Container::restart(
      store, record.id, record.spec.auto_remove ? Durability::fast : Durability::durable);
  const auto options = container::load_supervisor_options(store.dir(container.id()));
  return run_attached(store, container, options.log, o.interactive, signals);
}

void start(Globals& globals, const StartOptions& o) {
  if (o.attach || o.interactive) {
    globals.exit_code = start_attached(globals, o);
    return;
  }
  const auto store = open_container_store(globals);
  for_each_container(globals, o.refs,
                     [&](const std::string& ref) { container::start_detached(store, ref); });
}

void setup_start(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("start", "Start one or more stopped containers");
  auto o = std::make_shared<StartOptions>();
  cmd->add_flag("-a,--attach", o->attach, "Attach STDOUT/STDERR and forward signals");
  cmd->add_flag("-i,--interactive", o->interactive, "Attach container's STDIN");
  cmd->add_option("containers", o->refs, "Container names or IDs")->required();
  cmd->callback([o, &globals] { start(globals, *o); });
}

GCTOOL_REGISTER_COMMAND(setup_start, "start");

}  // namespace
}  // namespace gctool::tool
