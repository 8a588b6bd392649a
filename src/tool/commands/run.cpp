// `gctool run [options] IMAGE [CMD [ARG...]]`: create a container from an image and run it in the
// foreground, as `docker run` does; the exit code is the container's.
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/foreground.hpp"
#include "gctool/container/init.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/units.hpp"
#include "gctool/image/store.hpp"
#include "gctool/io/signals.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/ports.hpp"
#include "gctool/sys/security.hpp"
#include "pull_output.hpp"

namespace gctool::tool {
namespace {

struct RunOptions {
  bool rm = false;
  bool detach = false;
  std::string restart = "no";
  std::vector<std::string> log_opts;
  bool interactive = false;
  bool tty = false;
  bool read_only = false;
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::optional<std::string> workdir;
  std::optional<std::string> user;
  std::string hostname;
  std::vector<std::string> volumes;
  std::string memory;
  std::string cpus;
  std::optional<std::int64_t> cpu_shares;
  std::string cpuset_cpus;
  std::optional<std::int64_t> pids_limit;
  std::optional<std::string> entrypoint;
  std::string network = "bridge";
  std::vector<std::string> publish;
  std::string ip;
  std::string mac;
  std::vector<std::string> dns;
  std::vector<std::string> dns_search;
  std::vector<std::string> dns_options;
  std::vector<std::string> add_hosts;
  std::vector<std::string> aliases;
  std::vector<std::string> links;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  std::vector<std::string> security_opts;
  std::vector<std::string> devices;
  std::string pull = "missing";
  RegistryCliOptions registry;
};

container::Spec build_spec(const std::string& root, const RunOptions& o,
                           const std::vector<std::string>& words) {
  if (words.empty()) {
    throw_invalid("\"run\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
  }
  container::Spec spec;
  // Flags are checked before the image is looked at: a bad value fails the same either way.
  if (!o.memory.empty()) {
    spec.resources.memory_bytes = parse_memory_size(o.memory);
  }
  if (!o.cpus.empty()) {
    spec.resources.nano_cpus = parse_cpus(o.cpus);
  }
  spec.resources.cpu_shares = o.cpu_shares;
  if (!o.cpuset_cpus.empty()) {
    spec.resources.cpuset_cpus = o.cpuset_cpus;
  }
  // Docker: 0 or -1 mean unlimited.
  if (o.pids_limit && *o.pids_limit > 0) {
    spec.resources.pids_limit = o.pids_limit;
  }
  for (const auto& volume : o.volumes) {
    spec.binds.push_back(container::parse_volume(volume));
  }
  spec.network_mode = o.network == "default" ? "bridge" : o.network;
  for (const auto& publish : o.publish) {
    spec.publish.push_back(net::parse_publish(publish));
  }
  if (!o.ip.empty()) {
    spec.ip = net::parse_ipv4(o.ip);
  }
  if (!o.mac.empty()) {
    spec.mac = net::parse_mac(o.mac);
  }
  for (const auto& server : o.dns) {
    if (!net::try_parse_ipv4(server)) {
      throw_invalid("invalid --dns \"{}\": not an IPv4 address", server);
    }
  }
  spec.dns = o.dns;
  spec.dns_search = o.dns_search;
  spec.dns_options = o.dns_options;
  spec.extra_hosts = o.add_hosts;
  spec.network_aliases = o.aliases;
  spec.links = o.links;
  // Checked here, before anything exists; the runtime prepares them again when it starts.
  sys::SecurityRequest security;
  security.cap_add = o.cap_add;
  security.cap_drop = o.cap_drop;
  security.privileged = o.privileged;
  security.security_opts = o.security_opts;
  security.seccomp_cache_dir = std::filesystem::path(root) / "cache" / "seccomp";
  for (const auto& notice : sys::parse_security(security).notices) {
    print_error(notice);
  }
  spec.cap_add = o.cap_add;
  spec.cap_drop = o.cap_drop;
  spec.privileged = o.privileged;
  spec.security_opts = o.security_opts;
  for (const auto& device : o.devices) {
    spec.devices.push_back(container::parse_device(device));
  }
  std::vector<std::string> cli_env;
  for (const auto& file : o.env_files) {
    if (has_control_char(file)) {
      throw_invalid("invalid --env-file \"{}\": the path holds a control character", file);
    }
    const auto lines = container::parse_env_file(read_file(file));
    cli_env.insert(cli_env.end(), lines.begin(), lines.end());
  }
  cli_env.insert(cli_env.end(), o.env.begin(), o.env.end());
  const auto env = container::expand_env_args(cli_env, caller_env);

  const auto image = image_on_demand(root, words.front(), o.pull, o.registry);
  spec.image_ref = words.front();
  spec.image_id = image.id;
  spec.layer_dirs = image.layer_dirs;
  const std::vector<std::string> cli_cmd(words.begin() + 1, words.end());
  std::tie(spec.entrypoint, spec.cmd) =
      container::resolve_command(image.config.entrypoint, image.config.cmd, o.entrypoint, cli_cmd);
  spec.env = image.config.env;
  container::merge_env(spec.env, env);
  spec.working_dir = o.workdir.value_or(image.config.working_dir);
  spec.user = o.user.value_or(image.config.user);
  spec.stop_signal = image.config.stop_signal;
  spec.name = o.name;
  spec.hostname = o.hostname;
  spec.tty = o.tty;
  spec.open_stdin = o.interactive;
  spec.read_only_rootfs = o.read_only;
  spec.auto_remove = o.rm;
  return spec;
}

// -d: the container runs under a supervisor; print its id once its command has started.
int run_detached(const Globals& globals, const container::SupervisorOptions& options,
                 container::Spec spec) {
  const auto store = open_container_store(globals);
  try {
    fmt::print("{}\n", container::run_detached(store, std::move(spec), options));
  } catch (const container::StartError& e) {
    std::fflush(stdout);
    print_error(e.what());
    return e.exit_code();
  }
  return 0;
}

int run(const Globals& globals, const RunOptions& o, const std::vector<std::string>& words) {
  // Checked with or without -d, before anything is created.
  container::SupervisorOptions options;
  options.restart = container::parse_restart_policy(o.restart);
  options.log = container::parse_log_opts(o.log_opts);
  auto spec = build_spec(globals.root, o, words);
  if (o.detach) {
    return run_detached(globals, options, std::move(spec));
  }
  if (options.restart.mode != container::RestartPolicy::Mode::no) {
    throw_invalid("--restart needs -d: a foreground container is not restarted");
  }
  // Blocked from here on, so a signal sent while the container starts is forwarded, not fatal.
  io::SignalSet signals(container::kForwardedSignals);
  const auto store = open_container_store(globals);
  auto container = container::Container::create(store, std::move(spec),
                                                o.rm ? Durability::fast : Durability::durable);
  try {
    container.start(o.interactive ? BorrowedFd(0) : BorrowedFd());
  } catch (const container::InitError& e) {
    std::fflush(stdout);
    print_error(e.what());
    return e.exit_code();
  }
  const int code = container::run_foreground(container, signals.fd(), o.interactive);
  container.finish();
  // The container's own exit code even when its record could not be written (a full disk).
  if (!container.save_error().empty()) {
    std::fflush(stdout);
    fmt::print(stderr, "gctool: warning: {}\n", container.save_error());
  }
  return code;
}

void setup_run(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("run", "Create and run a new container from an image");
  // -h is --hostname, as in Docker.
  cmd->set_help_flag("--help", "Print this help message and exit");
  auto o = std::make_shared<RunOptions>();
  cmd->add_flag("--rm", o->rm, "Remove the container when it exits");
  cmd->add_flag("-d,--detach", o->detach, "Run the container in the background, print its ID");
  cmd->add_option("--restart", o->restart,
                  "Restart policy: no, on-failure[:N], always, unless-stopped (with -d)");
  cmd->add_option("--log-opt", o->log_opts, "Log rotation: max-size=SIZE, max-file=N")
      ->allow_extra_args(false);
  cmd->add_flag("-i,--interactive", o->interactive, "Keep STDIN open");
  cmd->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
  cmd->add_flag("--read-only", o->read_only, "Mount the container's root filesystem read-only");
  cmd->add_option("--name", o->name, "Assign a name to the container");
  cmd->add_option("-e,--env", o->env, "Set environment variables (K=V, or K from this env)")
      ->allow_extra_args(false);
  cmd->add_option("--env-file", o->env_files, "Read environment variables from a file")
      ->allow_extra_args(false);
  cmd->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", o->user, "Username or UID (format: <name|uid>[:<group|gid>])");
  cmd->add_option("-h,--hostname", o->hostname, "Container host name");
  cmd->add_option("-v,--volume", o->volumes, "Bind mount a volume (HOST:CONTAINER[:ro])")
      ->allow_extra_args(false);
  cmd->add_option("-m,--memory", o->memory, "Memory limit");
  cmd->add_option("--cpus", o->cpus, "Number of CPUs");
  cmd->add_option("--cpu-shares", o->cpu_shares, "CPU shares (relative weight)");
  cmd->add_option("--cpuset-cpus", o->cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  cmd->add_option("--pids-limit", o->pids_limit, "Tune container pids limit (-1 for unlimited)");
  cmd->add_option("--entrypoint", o->entrypoint, "Overwrite the default ENTRYPOINT of the image");
  cmd->add_option("--network,--net", o->network,
                  "Connect a container to a network: bridge (default), none, host or a name");
  cmd->add_option("-p,--publish", o->publish,
                  "Publish a container's port to the host: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp] "
                  "or CTRPORT")
      ->allow_extra_args(false);
  cmd->add_option("--ip", o->ip, "IPv4 address on the network (e.g. 172.30.100.104)");
  cmd->add_option("--mac-address", o->mac, "Container MAC address (e.g. 92:d0:c6:0a:29:33)");
  cmd->add_option("--dns", o->dns, "Set custom DNS servers")->allow_extra_args(false);
  cmd->add_option("--dns-search", o->dns_search, "Set custom DNS search domains")
      ->allow_extra_args(false);
  cmd->add_option("--dns-option", o->dns_options, "Set DNS options")->allow_extra_args(false);
  cmd->add_option("--add-host", o->add_hosts,
                  "Add a custom host-to-IP mapping (NAME:IP, IP may be host-gateway)")
      ->allow_extra_args(false);
  cmd->add_option("--network-alias,--net-alias", o->aliases,
                  "Add network-scoped aliases for the container")
      ->allow_extra_args(false);
  cmd->add_option("--link", o->links, "Add a link to another container (NAME[:ALIAS])")
      ->allow_extra_args(false);
  cmd->add_option("--cap-add", o->cap_add, "Add Linux capabilities")->allow_extra_args(false);
  cmd->add_option("--cap-drop", o->cap_drop, "Drop Linux capabilities")->allow_extra_args(false);
  cmd->add_flag("--privileged", o->privileged, "Give extended privileges to this container");
  cmd->add_option("--device", o->devices,
                  "Add a host device to the container (HOST[:CONTAINER[:rwm]])")
      ->allow_extra_args(false);
  cmd->add_option("--security-opt", o->security_opts,
                  "Security options: no-new-privileges[=bool], seccomp=unconfined|FILE, "
                  "systempaths=unconfined")
      ->allow_extra_args(false);
  add_pull_on_demand_options(cmd, o->pull, o->registry, "running");
  // IMAGE and everything after it belong to the container: `run busybox ls -l` must not parse -l.
  cmd->prefix_command();
  cmd->callback([cmd, o, &globals] { globals.exit_code = run(globals, *o, cmd->remaining()); });
}

GCTOOL_REGISTER_COMMAND(setup_run);

}  // namespace
}  // namespace gctool::tool
