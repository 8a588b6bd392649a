#include "run_options.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/cgroup/driver.hpp"
#include "gctool/container/api.hpp"
#include "gctool/container/foreground.hpp"
#include "gctool/container/init.hpp"
#include "gctool/container/namespace_modes.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/units.hpp"
#include "gctool/image/store.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/ports.hpp"
#include "gctool/sys/security.hpp"

namespace gctool::tool {
namespace {

// An --expose value or an image's ExposedPorts key: PORT[/tcp|/udp].
net::PortMapping parse_exposed_port(const std::string& port) {
  if (port.empty() || port.front() < '0' || port.front() > '9' ||
      port.find(':') != std::string::npos) {
    throw_invalid("invalid --expose \"{}\": expected PORT[/PROTOCOL]", port);
  }
  return net::parse_publish(port);
}

// --volumes-from: the mounts of each named container, which must exist (running or not).
void add_volumes_from(const std::string& root, const std::vector<std::string>& values,
                      std::vector<container::BindMount>& binds) {
  if (values.empty()) {
    return;
  }
  const container::ContainerStore store(root);
  for (const auto& value : values) {
    const auto [name, mode] = container::parse_volumes_from(value);
    container::Record donor;
    try {
      donor = container::inspect_container(store, name);
    } catch (const Error& e) {
      // As Docker: a bad run flag (125), not a missing container (1).
      throw_invalid("invalid --volumes-from \"{}\": {}", value, e.what());
    }
    container::add_volumes_from(binds, donor.spec.binds, mode);
  }
}

}  // namespace

container::Spec build_spec(const std::string& root, const RunOptions& o,
                           const std::vector<std::string>& words, const std::string& verb) {
  if (words.empty()) {
    throw_invalid("\"{}\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]", verb);
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
  if (!o.memory_swap.empty()) {
    spec.resources.memory_swap = o.memory_swap == "-1" ? -1 : parse_memory_size(o.memory_swap);
  }
  if (!o.memory_reservation.empty()) {
    spec.resources.memory_reservation = parse_memory_size(o.memory_reservation);
  }
  spec.resources.oom_kill_disable = o.oom_kill_disable;
  spec.resources.cpu_period = o.cpu_period;
  spec.resources.cpu_quota = o.cpu_quota;
  // Docker: 0 leaves the weight as it is.
  if (o.blkio_weight && *o.blkio_weight != 0) {
    spec.resources.blkio_weight = o.blkio_weight;
  }
  // Docker: -1 leaves the kernel's swappiness.
  if (o.memory_swappiness && *o.memory_swappiness != -1) {
    spec.resources.memory_swappiness = o.memory_swappiness;
  }
  if (!o.cpuset_mems.empty()) {
    spec.resources.cpuset_mems = o.cpuset_mems;
  }
  const auto throttles = [](const char* flag, const std::vector<std::string>& values, bool iops) {
    std::vector<cgroup::ThrottleDevice> out;
    for (const auto& value : values) {
      out.push_back(cgroup::parse_throttle_device(flag, value, iops));
    }
    return out;
  };
  spec.resources.device_read_bps = throttles("--device-read-bps", o.device_read_bps, false);
  spec.resources.device_write_bps = throttles("--device-write-bps", o.device_write_bps, false);
  spec.resources.device_read_iops = throttles("--device-read-iops", o.device_read_iops, true);
  spec.resources.device_write_iops = throttles("--device-write-iops", o.device_write_iops, true);
  cgroup::validate(spec.resources);
  if (!o.cgroup_parent.empty()) {
    // Checked as the path it becomes; "/" alone is the hierarchy's root.
    if (o.cgroup_parent.find_first_not_of('/') != std::string::npos) {
      cgroup::normalize_path(o.cgroup_parent);
    }
    spec.cgroup_parent = o.cgroup_parent;
  }
  if (!o.cgroupns.empty() && o.cgroupns != "host" && o.cgroupns != "private") {
    throw_invalid(
        "invalid argument \"{}\" for \"--cgroupns\" flag: --cgroupns: invalid "
        "CGROUP mode \"{}\"",
        o.cgroupns, o.cgroupns);
  }
  spec.cgroupns_mode = o.cgroupns;
  if (o.oom_score_adj && (*o.oom_score_adj < -1000 || *o.oom_score_adj > 1000)) {
    throw_invalid("Invalid value {}, range for oom score adj is [-1000, 1000]", *o.oom_score_adj);
  }
  if (o.oom_score_adj && *o.oom_score_adj != 0) {
    spec.oom_score_adj = o.oom_score_adj;
  }
  for (const auto& warning : cgroup::host_driver()->check_supported(spec.resources)) {
    print_error(warning);
  }
  for (const auto& volume : o.volumes) {
    spec.binds.push_back(container::parse_volume(volume, std::filesystem::current_path()));
  }
  for (const auto& mount : o.mounts) {
    container::parse_mount(mount, std::filesystem::current_path(), spec.binds, spec.tmpfs);
  }
  for (const auto& tmpfs : o.tmpfs) {
    spec.tmpfs.push_back(container::parse_tmpfs(tmpfs));
  }
  add_volumes_from(root, o.volumes_from, spec.binds);
  spec.volumes_from = o.volumes_from;
  for (const auto& ulimit : o.ulimits) {
    spec.ulimits.push_back(container::parse_ulimit(ulimit));
  }
  if (!o.shm_size.empty()) {
    spec.shm_size = parse_memory_size(o.shm_size);
    if (*spec.shm_size <= 0) {
      throw_invalid("invalid --shm-size \"{}\": must be greater than 0", o.shm_size);
    }
  }
  if (o.stop_signal) {
    parse_signal(*o.stop_signal);
  }
  spec.stop_timeout = o.stop_timeout;
  container::check_health_flags(o.health);
  std::vector<std::string> label_args;
  for (const auto& file : o.label_files) {
    const auto lines = container::parse_env_file(read_file(file));
    label_args.insert(label_args.end(), lines.begin(), lines.end());
  }
  label_args.insert(label_args.end(), o.labels.begin(), o.labels.end());
  std::map<std::string, std::string> labels;
  for (const auto& label : label_args) {
    const auto eq = label.find('=');
    if (eq == 0 || label.empty()) {
      throw_invalid("invalid label \"{}\": empty name", label);
    }
    labels[label.substr(0, eq)] = eq == std::string::npos ? "" : label.substr(eq + 1);
  }
  std::vector<net::PortMapping> exposed;
  for (const auto& port : o.expose) {
    exposed.push_back(parse_exposed_port(port));
  }
  spec.network_mode = o.network == "default" ? "bridge" : o.network;
  for (const auto& publish : o.publish) {
    spec.publish.push_back(net::parse_publish(publish));
  }
  if (!o.ip.empty()) {
    spec.ip = net::parse_ipv4(o.ip);
  }
  if (!o.ip6.empty()) {
    spec.ip6 = net::parse_ipv6(o.ip6);
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
  security.check_only = true;
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
  container::check_namespace_mode("--pid", o.pid_mode);
  container::check_namespace_mode("--uts", o.uts_mode);
  container::check_namespace_mode("--ipc", o.ipc_mode);
  spec.pid_mode = o.pid_mode;
  spec.uts_mode = o.uts_mode;
  spec.ipc_mode = o.ipc_mode;
  for (const auto& sysctl : o.sysctls) {
    auto [name, value] = container::parse_sysctl(sysctl);
    spec.sysctls[name] = std::move(value);
  }
  for (const auto& group : o.group_add) {
    if (group.empty() || group.find_first_of(":\n") != std::string::npos) {
      throw_invalid("invalid --group-add \"{}\": expected a group name or gid", group);
    }
  }
  spec.group_add = o.group_add;
  spec.init = o.init;
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

  const auto image = image_on_demand(root, words.front(), o.pull, o.registry, o.quiet);
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
  spec.stop_signal = o.stop_signal.value_or(image.config.stop_signal);
  spec.healthcheck = container::merge_healthcheck(image.config.healthcheck, o.health);
  // The image's labels, then --label-file and --label over them.
  spec.labels = image.config.labels;
  for (auto& [key, value] : labels) {
    spec.labels[key] = std::move(value);
  }
  if (o.publish_all) {
    for (const auto& port : image.config.exposed_ports) {
      exposed.push_back(parse_exposed_port(port));
    }
    // -P: every exposed port not published by -p, on a free host port.
    for (const auto& port : exposed) {
      const bool published =
          std::any_of(spec.publish.begin(), spec.publish.end(), [&](const auto& p) {
            return p.container_port == port.container_port && p.protocol == port.protocol;
          });
      if (!published) {
        spec.publish.push_back(port);
      }
    }
  }
  spec.name = o.name;
  spec.hostname = o.hostname;
  spec.domainname = o.domainname;
  spec.tty = o.tty;
  spec.open_stdin = o.interactive;
  const auto streams = attach_streams(o);
  spec.attach_stdout = !o.detach && streams.out;
  spec.attach_stderr = !o.detach && streams.err;
  spec.attach_stdin =
      !o.detach && (o.attach.empty() ? o.interactive
                                     : std::any_of(o.attach.begin(), o.attach.end(), [](auto& s) {
                                         return s == "stdin" || s == "STDIN";
                                       }));
  spec.read_only_rootfs = o.read_only;
  spec.auto_remove = o.rm;
  return spec;
}

AttachStreams attach_streams(const RunOptions& o) {
  if (o.attach.empty()) {
    return {};
  }
  if (o.detach) {
    throw_invalid("conflicting options: cannot specify both --attach and --detach");
  }
  AttachStreams streams{false, false};
  for (const auto& name : o.attach) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "stdout") {
      streams.out = true;
    } else if (lower == "stderr") {
      streams.err = true;
    } else if (lower != "stdin") {
      throw_invalid(
          "invalid argument \"{}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT "
          "and STDERR",
          name);
    }
  }
  return streams;
}

int run_attached(const container::ContainerStore& store, container::Container& container,
                 const container::LogOptions& log, bool interactive, io::SignalSet& signals,
                 AttachStreams streams) {
  container::ForegroundOutput output(store, container, log);
  output.attach_only(streams.out, streams.err);
  try {
    output.start(container, interactive ? BorrowedFd(0) : BorrowedFd());
  } catch (const container::InitError& e) {
    std::fflush(stdout);
    print_error(e.what());
    return e.exit_code();
  }
  io::Loop loop;
  const container::api::AttachOptions attach{signals.fd(), interactive, &output};
  const int code = io::sync_wait(loop, container::api::attach(loop, container, attach));
  container.finish();
  // The container's own exit code even when its record could not be written (a full disk).
  if (!container.save_error().empty()) {
    std::fflush(stdout);
    fmt::print(stderr, "gctool: warning: {}\n", container.save_error());
  }
  return code;
}

CidFile::CidFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) {
    return;
  }
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    throw_invalid(
        "container ID file found, make sure the other container isn't running or "
        "delete {}",
        path_);
  }
  fd_ = UniqueFd(check(fd, "create the container ID file {}", path_));
}

CidFile::~CidFile() {
  if (fd_.valid() && !written_) {
    ::unlink(path_.c_str());
  }
}

void CidFile::write(const std::string& id) {
  if (fd_.valid()) {
    write_all(fd_.borrow(), id, "the container ID file");
    written_ = true;
  }
}

container::SupervisorOptions supervisor_options(const RunOptions& o) {
  container::SupervisorOptions options;
  options.restart = container::parse_restart_policy(o.restart);
  const auto driver = container::parse_log_driver(o.log_driver);
  if (driver == container::LogDriver::none && !o.log_opts.empty()) {
    const auto& opt = o.log_opts.front();
    throw_invalid("unknown log opt '{}' for none log driver", opt.substr(0, opt.find('=')));
  }
  options.log = container::parse_log_opts(o.log_opts);
  options.log.driver = driver;
  return options;
}

void add_run_options(CLI::App* cmd, RunOptions& o) {
  cmd->add_flag("--rm", o.rm, "Remove the container when it exits");
  cmd->add_option("--restart", o.restart,
                  "Restart policy: no, on-failure[:N], always, unless-stopped");
  cmd->add_option("--log-driver", o.log_driver,
                  "Logging driver: local (default), json-file (Docker's format) or none");
  cmd->add_option("--log-opt", o.log_opts, "Log rotation: max-size=SIZE, max-file=N")
      ->allow_extra_args(false);
  cmd->add_flag("-i,--interactive", o.interactive, "Keep STDIN open");
  cmd->add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
  cmd->add_flag("--read-only", o.read_only, "Mount the container's root filesystem read-only");
  cmd->add_option("--name", o.name, "Assign a name to the container");
  cmd->add_option("-e,--env", o.env, "Set environment variables (K=V, or K from this env)")
      ->allow_extra_args(false);
  cmd->add_option("--env-file", o.env_files, "Read environment variables from a file")
      ->allow_extra_args(false);
  cmd->add_option("-w,--workdir", o.workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", o.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  cmd->add_option("-h,--hostname", o.hostname, "Container host name");
  cmd->add_option("--domainname", o.domainname, "Container NIS domain name");
  cmd->add_option(
         "-v,--volume", o.volumes,
         "Bind mount a volume ([HOST|NAME:]CONTAINER[:ro|rw,z,Z,PROPAGATION]); z and Z are "
         "accepted, no SELinux relabelling is done")
      ->allow_extra_args(false);
  cmd->add_option(
         "--mount", o.mounts,
         "Attach a filesystem mount: type=bind|volume|tmpfs,source=...,target=...[,readonly]")
      ->allow_extra_args(false);
  cmd->add_option("--volumes-from", o.volumes_from,
                  "Mount volumes from the specified container(s) (CONTAINER[:ro|rw])")
      ->allow_extra_args(false);
  cmd->add_option("--tmpfs", o.tmpfs, "Mount a tmpfs directory (PATH[:OPTIONS])")
      ->allow_extra_args(false);
  cmd->add_option("-l,--label", o.labels, "Set meta data on a container (KEY=VALUE)")
      ->allow_extra_args(false);
  cmd->add_option("--label-file", o.label_files, "Read in a line delimited file of labels")
      ->allow_extra_args(false);
  cmd->add_option("--ulimit", o.ulimits, "Ulimit options (NAME=SOFT[:HARD])")
      ->allow_extra_args(false);
  cmd->add_option("--shm-size", o.shm_size, "Size of /dev/shm");
  cmd->add_option("--cidfile", o.cidfile, "Write the container ID to the file");
  cmd->add_option("--health-cmd", o.health.cmd, "Command to run to check health");
  cmd->add_option("--health-interval", o.health.interval,
                  "Time between running the check (ms|s|m|h) (default 30s)");
  cmd->add_option("--health-timeout", o.health.timeout,
                  "Maximum time to allow one check to run (ms|s|m|h) (default 30s)");
  cmd->add_option("--health-start-period", o.health.start_period,
                  "Start period for the container to initialize before failures count (ms|s|m|h)");
  cmd->add_option("--health-start-interval", o.health.start_interval,
                  "Time between running the check during the start period (ms|s|m|h) (default 5s)");
  cmd->add_option("--health-retries", o.health.retries,
                  "Consecutive failures needed to report unhealthy (default 3)");
  cmd->add_flag("--no-healthcheck", o.health.none, "Disable any container-specified HEALTHCHECK");
  cmd->add_option("--stop-signal", o.stop_signal, "Signal to stop the container");
  cmd->add_option("--stop-timeout", o.stop_timeout, "Timeout (in seconds) to stop a container");
  cmd->add_flag("-P,--publish-all", o.publish_all, "Publish all exposed ports to random ports");
  cmd->add_option("--expose", o.expose, "Expose a port (PORT[/tcp|/udp]), published by -P")
      ->allow_extra_args(false);
  cmd->add_option("-m,--memory", o.memory, "Memory limit");
  cmd->add_option("--cpus", o.cpus, "Number of CPUs");
  cmd->add_option("--cpu-shares", o.cpu_shares, "CPU shares (relative weight)");
  cmd->add_option("--cpuset-cpus", o.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  cmd->add_option("--pids-limit", o.pids_limit, "Tune container pids limit (-1 for unlimited)");
  cmd->add_option("--memory-swap", o.memory_swap,
                  "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
  cmd->add_option("--memory-reservation", o.memory_reservation, "Memory soft limit");
  cmd->add_flag("--oom-kill-disable", o.oom_kill_disable, "Disable OOM Killer");
  cmd->add_option("--cpu-period", o.cpu_period, "Limit CPU CFS (Completely Fair Scheduler) period");
  cmd->add_option("--cpu-quota", o.cpu_quota, "Limit CPU CFS (Completely Fair Scheduler) quota");
  cmd->add_option("--blkio-weight", o.blkio_weight,
                  "Block IO (relative weight), between 10 and 1000, or 0 to disable");
  cmd->add_option("--memory-swappiness", o.memory_swappiness,
                  "Tune container memory swappiness (0 to 100) (default -1)");
  cmd->add_option("--cpuset-mems", o.cpuset_mems, "MEMs in which to allow execution (0-3, 0,1)");
  cmd->add_option("--device-read-bps", o.device_read_bps,
                  "Limit read rate (bytes per second) from a device (PATH:RATE, e.g. /dev/sda:1mb)")
      ->allow_extra_args(false);
  cmd->add_option("--device-write-bps", o.device_write_bps,
                  "Limit write rate (bytes per second) to a device (PATH:RATE)")
      ->allow_extra_args(false);
  cmd->add_option("--device-read-iops", o.device_read_iops,
                  "Limit read rate (IO per second) from a device (PATH:COUNT)")
      ->allow_extra_args(false);
  cmd->add_option("--device-write-iops", o.device_write_iops,
                  "Limit write rate (IO per second) to a device (PATH:COUNT)")
      ->allow_extra_args(false);
  cmd->add_option("--cgroup-parent", o.cgroup_parent,
                  "Optional parent cgroup for the container (from each hierarchy's root)");
  cmd->add_option("--cgroupns", o.cgroupns,
                  "Cgroup namespace to use: private (default, its own), host");
  cmd->add_option("--oom-score-adj", o.oom_score_adj,
                  "Tune host's OOM preferences (-1000 to 1000)");
  cmd->add_option("--entrypoint", o.entrypoint, "Overwrite the default ENTRYPOINT of the image");
  cmd->add_option("--network,--net", o.network,
                  "Connect a container to a network: bridge (default), none, host or a name");
  cmd->add_option("-p,--publish", o.publish,
                  "Publish a container's port to the host: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp] "
                  "or CTRPORT")
      ->allow_extra_args(false);
  cmd->add_option("--ip", o.ip, "IPv4 address on the network (e.g. 172.30.100.104)");
  cmd->add_option("--ip6", o.ip6, "IPv6 address on the network (e.g. fd00:1::10)");
  cmd->add_option("--mac-address", o.mac, "Container MAC address (e.g. 92:d0:c6:0a:29:33)");
  cmd->add_option("--dns", o.dns, "Set custom DNS servers")->allow_extra_args(false);
  cmd->add_option("--dns-search", o.dns_search, "Set custom DNS search domains")
      ->allow_extra_args(false);
  cmd->add_option("--dns-option", o.dns_options, "Set DNS options")->allow_extra_args(false);
  cmd->add_option("--add-host", o.add_hosts,
                  "Add a custom host-to-IP mapping (NAME:IP, IP may be host-gateway)")
      ->allow_extra_args(false);
  cmd->add_option("--network-alias,--net-alias", o.aliases,
                  "Add network-scoped aliases for the container")
      ->allow_extra_args(false);
  cmd->add_option("--link", o.links, "Add a link to another container (NAME[:ALIAS])")
      ->allow_extra_args(false);
  cmd->add_option("--cap-add", o.cap_add, "Add Linux capabilities")->allow_extra_args(false);
  cmd->add_option("--cap-drop", o.cap_drop, "Drop Linux capabilities")->allow_extra_args(false);
  cmd->add_flag("--privileged", o.privileged, "Give extended privileges to this container");
  cmd->add_option("--device", o.devices,
                  "Add a host device to the container (HOST[:CONTAINER[:rwm]])")
      ->allow_extra_args(false);
  cmd->add_flag("--init", o.init,
                "Run an init inside the container that forwards signals and reaps processes");
  cmd->add_option("--sysctl", o.sysctls,
                  "Sysctl options (NAME=VALUE: net.*, fs.mqueue.*, kernel IPC limits)")
      ->allow_extra_args(false);
  cmd->add_option("--group-add", o.group_add, "Add additional groups to join")
      ->allow_extra_args(false);
  cmd->add_option("--pid", o.pid_mode, "PID namespace to use: host");
  cmd->add_option("--uts", o.uts_mode, "UTS namespace to use: host");
  cmd->add_option("--ipc", o.ipc_mode,
                  "IPC mode to use: private, shareable, host or container:NAME");
  cmd->add_option("--security-opt", o.security_opts,
                  "Security options: no-new-privileges[=bool], seccomp=unconfined|FILE, "
                  "systempaths=unconfined")
      ->allow_extra_args(false);
  add_pull_on_demand_options(cmd, o.pull, o.registry, "running");
  cmd->add_flag("-q,--quiet", o.quiet, "Suppress the pull output");
}

}  // namespace gctool::tool
