// `gctool run [options] IMAGE [CMD [ARG...]]`: create a container from an image and run it in the
// foreground, as `docker run` does; the exit code is the container's.
#include <unistd.h>

#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/attach.hpp"
#include "gctool/container/foreground.hpp"
#include "gctool/container/health.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/io/signals.hpp"
#include "run_options.hpp"

namespace gctool::tool {
namespace {

// -d: the container runs under a supervisor; print its id once its command has started.
int run_detached(const Globals& globals, const container::SupervisorOptions& options,
                 container::Spec spec, CidFile& cidfile) {
  const auto store = open_container_store(globals);
  try {
    const auto id = container::run_detached(store, std::move(spec), options);
    cidfile.write(id);
    fmt::print("{}\n", id);
  } catch (const container::StartError& e) {
    std::fflush(stdout);
    print_error(e.what());
    return e.exit_code();
  }
  return 0;
}

// -it, --restart, a health check or --sig-proxy=false: as Docker, the container runs under a
// supervisor (which restarts it, runs its checks, and keeps it when this process goes) and this
// process attaches to it before it starts, so that it sees all of its output, and the detach
// keys (with a tty) leave it running. Returns the exit code of the container's first run, or 0
// once detached.
int run_supervised(const Globals& globals, const RunOptions& o,
                   const container::SupervisorOptions& options, container::Spec spec,
                   CidFile& cidfile, AttachStreams streams) {
  container::AttachOptions attach;
  attach.detach_keys = container::parse_detach_keys(
      o.detach_keys.empty() ? container::kDefaultDetachKeys : o.detach_keys);
  attach.eof_ends_input = true;
  attach.sig_proxy = o.sig_proxy;
  attach.show_out = streams.out;
  attach.show_err = streams.err;
  const bool tty = spec.tty;
  const bool open_stdin = spec.open_stdin;
  const auto store = open_container_store(globals);
  UniqueFd sock;
  std::string id;
  try {
    id = container::run_detached(store, std::move(spec), options, [&](const std::string& ready) {
      sock = container::connect_attach_socket(store.dir(ready));
    });
  } catch (const container::StartError& e) {
    std::fflush(stdout);
    print_error(e.what());
    return e.exit_code();
  }
  cidfile.write(id);
  const auto code = container::attach_session(std::move(sock), tty, open_stdin, attach);
  if (!code) {
    return 0;
  }
  if (options.restart.mode != container::RestartPolicy::Mode::no) {
    // As Docker: the first run's code; the supervisor restarts the container in the background.
    return *code;
  }
  // Returns once the exit is in the record, so that what runs next sees it.
  try {
    return container::wait_container(store, id);
  } catch (const Error&) {
    return *code;  // removed meanwhile (--rm)
  }
}

// Whether a foreground run needs the supervisor rather than this process as its owner.
bool needs_supervisor(const RunOptions& o, const container::SupervisorOptions& options,
                      const container::Spec& spec) {
  return (o.interactive && o.tty && o.attach.empty()) ||
         options.restart.mode != container::RestartPolicy::Mode::no ||
         container::health_enabled(spec.healthcheck) || !o.sig_proxy;
}

int run(const Globals& globals, const RunOptions& o, const std::vector<std::string>& words) {
  // Checked with or without -d, before anything is created.
  if (!o.detach_keys.empty()) {
    container::parse_detach_keys(o.detach_keys);
  }
  const auto options = supervisor_options(o);
  const auto streams = attach_streams(o);
  auto spec = build_spec(globals.root, o, words, "run");
  container::check_restart_policy(spec, options);
  CidFile cidfile(o.cidfile);
  if (o.detach) {
    return run_detached(globals, options, std::move(spec), cidfile);
  }
  if (needs_supervisor(o, options, spec)) {
    return run_supervised(globals, o, options, std::move(spec), cidfile, streams);
  }
  // Blocked from here on, so a signal sent while the container starts is forwarded, not fatal.
  io::SignalSet signals(container::kForwardedSignals);
  const auto store = open_container_store(globals);
  auto container = container::Container::create(store, std::move(spec),
                                                o.rm ? Durability::fast : Durability::durable);
  container::save_supervisor_options(store.dir(container.id()), options);
  cidfile.write(container.id());
  return run_attached(store, container, options.log, o.interactive, signals, streams);
}

void setup_run(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("run", "Create and run a new container from an image");
  // -h is --hostname, as in Docker.
  cmd->set_help_flag("--help", "Print this help message and exit");
  auto o = std::make_shared<RunOptions>();
  cmd->add_flag("-d,--detach", o->detach, "Run the container in the background, print its ID");
  cmd->add_option("-a,--attach", o->attach, "Attach to STDIN, STDOUT or STDERR")
      ->allow_extra_args(false);
  cmd->add_option("--detach-keys", o->detach_keys,
                  "Override the key sequence for detaching a container (with -it)");
  cmd->add_flag("--sig-proxy", o->sig_proxy,
                "Proxy received signals to the process (--sig-proxy=false: do not)");
  add_run_options(cmd, *o);
  // IMAGE and everything after it belong to the container: `run busybox ls -l` must not parse -l.
  cmd->prefix_command();
  cmd->callback([cmd, o, &globals] { globals.exit_code = run(globals, *o, cmd->remaining()); });
}

GCTOOL_REGISTER_COMMAND(setup_run, "run");

}  // namespace
}  // namespace gctool::tool
