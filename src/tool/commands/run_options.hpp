// The options `run` and `create` share, Docker's container flags, and the spec they make.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "gctool/container/health.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/spec.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/io/signals.hpp"
#include "pull_output.hpp"

namespace gctool::tool {

struct RunOptions {
  bool rm = false;
  bool detach = false;              // run only
  std::vector<std::string> attach;  // run only: -a STDIN|STDOUT|STDERR
  std::string detach_keys;          // run only: --detach-keys, with -it
  bool sig_proxy = true;            // run only: --sig-proxy=false
  std::string restart = "no";
  std::vector<std::string> log_opts;
  std::string log_driver = "local";
  bool interactive = false;
  bool tty = false;
  bool read_only = false;
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::optional<std::string> workdir;
  std::optional<std::string> user;
  std::string hostname;
  std::string domainname;
  std::vector<std::string> volumes;
  std::vector<std::string> mounts;
  std::vector<std::string> volumes_from;
  std::vector<std::string> tmpfs;
  std::vector<std::string> labels;
  std::vector<std::string> label_files;
  std::vector<std::string> ulimits;
  std::string shm_size;
  std::string cidfile;
  std::optional<std::string> stop_signal;
  std::optional<int> stop_timeout;
  bool publish_all = false;
  std::vector<std::string> expose;
  std::string memory;
  std::string cpus;
  std::optional<std::int64_t> cpu_shares;
  std::string cpuset_cpus;
  std::optional<std::int64_t> pids_limit;
  std::string memory_swap;
  std::string memory_reservation;
  bool oom_kill_disable = false;
  std::optional<std::int64_t> cpu_period;
  std::optional<std::int64_t> cpu_quota;
  std::optional<std::int64_t> blkio_weight;
  std::optional<std::int64_t> memory_swappiness;
  std::string cpuset_mems;
  std::vector<std::string> device_read_bps;
  std::vector<std::string> device_write_bps;
  std::vector<std::string> device_read_iops;
  std::vector<std::string> device_write_iops;
  std::string cgroup_parent;
  std::string cgroupns;
  std::optional<int> oom_score_adj;
  std::optional<std::string> entrypoint;
  std::string network = "bridge";
  std::vector<std::string> publish;
  std::string ip;
  std::string ip6;
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
  bool init = false;
  std::vector<std::string> sysctls;
  std::vector<std::string> group_add;
  std::string pid_mode;
  std::string uts_mode;
  std::string ipc_mode;
  container::HealthFlags health;
  std::string pull = "missing";
  bool quiet = false;  // -q: no pull output
  RegistryCliOptions registry;
};

// Adds the container flags to `run` or `create` (not -d, which is run's own).
void add_run_options(CLI::App* cmd, RunOptions& o);

// The spec of the container: the flags are checked first, then the image is resolved (pulled as
// --pull says). `verb` names the command in the usage error when no image was given.
container::Spec build_spec(const std::string& root, const RunOptions& o,
                           const std::vector<std::string>& words, const std::string& verb);

// run -a: the streams shown on this process's fds 1 and 2 (-a stdin alone attaches neither, as
// Docker). Checked: an unknown stream, or -a with -d, is invalid input.
struct AttachStreams {
  bool out = true;
  bool err = true;
};
AttachStreams attach_streams(const RunOptions& o);

// Starts the created (or exited) container in this process and relays its output to fds 1 and
// 2 and its log until it exits: `run` without -d and `start -a`. Returns the container's exit
// code, or the code of why it could not start (printed). `signals` must be a signalfd-backed set
// over container::kForwardedSignals, blocked before the container was created.
int run_attached(const container::ContainerStore& store, container::Container& container,
                 const container::LogOptions& log, bool interactive, io::SignalSet& signals,
                 AttachStreams streams = {});

// --cidfile: made when the container is about to be created (an existing file is refused, as
// Docker does), removed again unless the id was written.
class CidFile {
 public:
  explicit CidFile(std::string path);  // empty: no file
  CidFile(const CidFile&) = delete;
  CidFile& operator=(const CidFile&) = delete;
  ~CidFile();
  void write(const std::string& id);

 private:
  std::string path_;
  UniqueFd fd_;
  bool written_ = false;
};

// --restart, --log-driver and --log-opt, checked.
container::SupervisorOptions supervisor_options(const RunOptions& o);

}  // namespace gctool::tool
