// `gctool attach [--detach-keys KEYS] [--no-stdin] [--sig-proxy=false] CONTAINER`: attach the
// terminal to a running detached container through its supervisor's attach socket. Exits with the
// container's code when it exits, 0 when the detach keys are typed.
#include <memory>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/attach.hpp"
#include "gctool/container/events.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"

namespace gctool::tool {
namespace {

struct AttachArgs {
  std::string ref;
  std::string detach_keys;
  bool no_stdin = false;
  bool sig_proxy = true;
};

void attach(Globals& globals, const AttachArgs& a) {
  container::AttachOptions options;
  // Bad keys are bad input: one line, exit 125, before anything is touched.
  options.detach_keys = container::parse_detach_keys(
      a.detach_keys.empty() ? container::kDefaultDetachKeys : a.detach_keys);
  options.stdin = !a.no_stdin;
  options.sig_proxy = a.sig_proxy;
  const auto store = open_container_store(globals);
  with_daemon_exit_code(globals, [&] {
    const auto record = container::inspect_container(store, a.ref);
    if (!record.running()) {
      throw_invalid("You cannot attach to a stopped container, start it first");
    }
    if (record.state.paused) {
      throw_invalid("You cannot attach to a paused container, unpause it first");
    }
    container::record_container_event(store, record, "attach");
    const auto code = container::attach_session(store.dir(record.id), record.spec.tty,
                                                record.spec.open_stdin, options);
    if (!code) {
      container::record_container_event(store, record, "detach");
      return;
    }
    // Returns once the exit is in the record, so that what runs next sees it.
    try {
      globals.exit_code = container::wait_container(store, record.id);
    } catch (const Error&) {
      // Removed meanwhile (--rm): the code the supervisor sent.
      globals.exit_code = *code;
    }
  });
}

void setup_attach(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand(
      "attach", "Attach local standard input, output, and error streams to a running container");
  auto a = std::make_shared<AttachArgs>();
  cmd->add_option("--detach-keys", a->detach_keys, "Override the key sequence for detaching");
  cmd->add_flag("--no-stdin", a->no_stdin, "Do not attach STDIN");
  cmd->add_flag("--sig-proxy", a->sig_proxy,
                "Proxy all received signals to the process (--sig-proxy=false: do not)");
  cmd->add_option("container", a->ref, "Container name or ID")->required();
  cmd->callback([a, &globals] { attach(globals, *a); });
}

GCTOOL_REGISTER_COMMAND(setup_attach, "attach");

}  // namespace
}  // namespace gctool::tool
