// `gctool create [options] IMAGE [CMD [ARG...]]`: create a container as `run` would, without
// starting it; prints its id. `start` runs it later.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/supervisor.hpp"
#include "run_options.hpp"

namespace gctool::tool {
namespace {

void create(const Globals& globals, const RunOptions& o, const std::vector<std::string>& words) {
  const auto options = supervisor_options(o);
  auto spec = build_spec(globals.root, o, words, "create");
  const auto store = open_container_store(globals);
  CidFile cidfile(o.cidfile);
  const auto id = container::create_container(store, std::move(spec), options);
  cidfile.write(id);
  fmt::print("{}\n", id);
}

void setup_create(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("create", "Create a new container");
  // -h is --hostname, as in Docker.
  cmd->set_help_flag("--help", "Print this help message and exit");
  auto o = std::make_shared<RunOptions>();
  // Recorded as Docker's Config.AttachStdin/Stdout/Stderr; `start -a` attaches stdout and stderr
  // whatever they say, as Docker's does.
  cmd->add_option("-a,--attach", o->attach, "Attach to STDIN, STDOUT or STDERR")
      ->allow_extra_args(false);
  add_run_options(cmd, *o);
  // IMAGE and everything after it belong to the container, as for run.
  cmd->prefix_command();
  cmd->callback([cmd, o, &globals] { create(globals, *o, cmd->remaining()); });
}

GCTOOL_REGISTER_COMMAND(setup_create, "create");

}  // namespace
}  // namespace gctool::tool
