// `gctool rm [-f] NAME|ID...`: remove containers, killing running ones with -f; as Docker's,
// `rm -f` of a container that does not exist is no error.
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"
#include "multi_container.hpp"

namespace gctool::tool {
namespace {

struct RmOptions {
  bool force = false;
  bool volumes = false;
  std::vector<std::string> refs;
};

void rm(Globals& globals, const RmOptions& o) {
  const auto store = open_container_store(globals);
  report_broken_records(store);
  for_all_containers(
      globals, o.refs,
      [&](const std::string& ref) { container::remove_container(store, ref, o.force, o.volumes); },
      o.force);
}

void setup_rm(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("rm", "Remove one or more containers");
  auto o = std::make_shared<RmOptions>();
  cmd->add_flag("-f,--force", o->force, "Force the removal of a running container (SIGKILL)");
  cmd->add_flag("-v,--volumes", o->volumes, "Remove anonymous volumes of the container");
  cmd->add_option("containers", o->refs, "Container names or IDs")->required();
  cmd->callback([o, &globals] { rm(globals, *o); });
}

GCTOOL_REGISTER_COMMAND(setup_rm, "rm");

}  // namespace
}  // namespace gctool::tool
