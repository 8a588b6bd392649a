// What to run: everything `gctool run` decided from the image and the command line, in the form
// the runtime takes. The pure rules Docker applies to combine the two live here too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/cgroup/resources.hpp"
#include "gctool/image/config.hpp"
#include "gctool/net/ipv4.hpp"
#include "gctool/net/ipv6.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/ports.hpp"

namespace gctool::container {

struct BindMount {
  std::string source;       // absolute host path; must exist (a volume's: set by the runtime)
  std::string destination;  // absolute path in the container
  bool read_only = false;
  std::string volume;  // the named volume's name; empty for a host path
  // `-v /data`: a volume named by gctool, removed with the container (--rm, rm -v).
  bool anonymous = false;
  // Docker's bind propagation as given (-v ...:rslave, --mount bind-propagation=); empty:
  // rprivate. Recorded only: the container's mount namespace is private, nothing propagates.
  std::string propagation;
  bool operator==(const BindMount&) const = default;
};

// --tmpfs DEST[:OPTIONS] and --mount type=tmpfs: a tmpfs made in the container.
struct TmpfsMount {
  std::string destination;  // absolute, normalised
  std::string options;      // as given, checked: size, mode, uid, gid, nr_inodes and flags
  bool operator==(const TmpfsMount&) const = default;
};

// The mount flags and data of tmpfs options ("size=64m,mode=1777,exec"), Docker's defaults
// (nosuid, nodev, noexec) first. Throws an invalid-input Error naming a bad option.
struct TmpfsMountData {
  unsigned long flags = 0;
  std::string data;
};
TmpfsMountData tmpfs_mount_data(std::string_view options);

// --ulimit NAME=SOFT[:HARD] (a single value sets both; -1 is unlimited).
struct Ulimit {
  std::string name;  // Docker's: nofile, nproc, core, ...
  std::int64_t soft = 0;
  std::int64_t hard = 0;
  bool operator==(const Ulimit&) const = default;
};
Ulimit parse_ulimit(std::string_view text);
// The RLIMIT_* resource of a Docker ulimit name; throws for an unknown name.
int ulimit_resource(std::string_view name);

// --device HOST[:CONTAINER[:PERMISSIONS]]: a host device node made in the container and allowed
// by its device rules.
struct DeviceMapping {
  std::string host_path;       // absolute, e.g. /dev/fuse
  std::string container_path;  // absolute; the host path when not given
  std::string permissions = "rwm";
  bool operator==(const DeviceMapping&) const = default;
};

// A device node as the init creates it: what the host node is, read when the container starts.
struct DeviceNode {
  std::string path;  // in the container
  char type = 'c';   // 'c' or 'b'
  std::int64_t major = 0;
  std::int64_t minor = 0;
  unsigned mode = 0;  // permission bits of the host node
  std::string permissions = "rwm";
};

// A network a container was connected to after it was created, with the settings it asked for.
struct NetworkConnection {
  std::string network;
  std::optional<net::Ipv4Address> ip;   // --ip
  std::optional<net::Ipv6Address> ip6;  // --ip6
  std::vector<std::string> aliases;     // --alias
};

struct Spec {
  std::string name;                               // empty: a random name
  std::string image_ref;                          // as the user gave it
  std::string image_id;                           // "sha256:<hex>"
  std::vector<std::filesystem::path> layer_dirs;  // bottom to top

  std::vector<std::string> entrypoint;  // the effective Entrypoint
  std::vector<std::string> cmd;         // the effective Cmd
  std::vector<std::string> env;         // image Env then -e, merged by key ("K=V")
  std::string working_dir;              // empty: "/"
  std::string user;                     // "", "name", "uid[:gid]", ...
  std::string hostname;                 // empty: the short id
  std::string domainname;               // --domainname: the UTS namespace's domain name
  bool tty = false;
  bool open_stdin = false;
  // Docker's AttachStdin/AttachStdout/AttachStderr: the streams run attaches (all but stdin by
  // default, stdin with -i, those named by run -a or create -a, none with -d).
  bool attach_stdin = false;
  bool attach_stdout = true;
  bool attach_stderr = true;

  cgroup::Resources resources;
  // --cgroup-parent: the container's cgroup is <parent>/<id> in every hierarchy; empty: "gctool".
  // A relative parent is taken from each hierarchy's root like an absolute one (see README).
  std::string cgroup_parent;
  // --cgroupns: "private" (empty: the default, a cgroup namespace of its own) or "host".
  std::string cgroupns_mode;
  std::optional<int> oom_score_adj;  // --oom-score-adj: the init's /proc/self/oom_score_adj
  bool read_only_rootfs = false;
  bool auto_remove = false;
  std::vector<BindMount> binds;
  // Docker's --network: "bridge" (the default network, created on first use; "default" is the
  // same), "none" (loopback only), "host" (the host's network namespace) or a network's name.
  std::string network_mode = "bridge";
  std::vector<net::PortMapping> publish;     // -p; host port 0: chosen when the container starts
  std::optional<net::Ipv4Address> ip;        // --ip
  std::optional<net::Ipv6Address> ip6;       // --ip6
  std::optional<net::MacAddress> mac;        // --mac-address
  std::vector<std::string> dns;              // --dns: the nameservers of /etc/resolv.conf
  std::vector<std::string> dns_search;       // --dns-search
  std::vector<std::string> dns_options;      // --dns-option
  std::vector<std::string> extra_hosts;      // --add-host NAME:IP (IP may be "host-gateway")
  std::vector<std::string> network_aliases;  // --network-alias
  std::vector<std::string> links;            // --link NAME[:ALIAS]
  // `network connect` and `disconnect` are remembered, as Docker's endpoint settings: every start
  // attaches network_mode's network (unless it was disconnected) and then these, in order.
  std::vector<NetworkConnection> connected_networks;
  bool network_mode_disconnected = false;
  std::string stop_signal;
  std::optional<int> stop_timeout;            // --stop-timeout: seconds `stop` waits by default
  std::map<std::string, std::string> labels;  // the image's, then --label
  std::vector<TmpfsMount> tmpfs;              // --tmpfs, --mount type=tmpfs
  std::vector<Ulimit> ulimits;                // --ulimit
  std::optional<std::int64_t> shm_size;       // --shm-size: /dev/shm's size in bytes

  // Security flags as given (--cap-add, --cap-drop, --privileged, --security-opt); the runtime
  // prepares them with sys::parse_security when it starts the container.
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  std::vector<std::string> security_opts;
  std::vector<DeviceMapping> devices;  // --device

  // Namespaces shared rather than the container's own (see namespace_modes.hpp): --pid ("",
  // "host", "container:NAME"), --uts ("" or "host") and --ipc ("", "private", "shareable",
  // "host", "container:NAME").
  std::string pid_mode;
  std::string uts_mode;
  std::string ipc_mode;
  std::map<std::string, std::string> sysctls;  // --sysctl, written in the container's namespaces
  std::vector<std::string> group_add;          // --group-add: names (the image's) or gids
  bool init = false;                           // --init: gctool-init runs as pid 1
  // The image's HEALTHCHECK with --health-* over it, or ["NONE"] (--no-healthcheck); see
  // container/health.hpp.
  std::optional<image::Healthcheck> healthcheck;
  // --volumes-from as given (Docker's HostConfig.VolumesFrom); their mounts are in binds.
  std::vector<std::string> volumes_from;
};

// "HOST:CTR[:OPTIONS]", "NAME:CTR[:OPTIONS]" or "CTR" as `-v`. A source starting with '/' is a
// host path, one starting with "./" or "../" (or "." or "..") a host path relative to `cwd`
// (Docker 23+), otherwise it must be a valid volume name (the runtime creates the volume and fills
// in source); without a source, an anonymous volume. OPTIONS is a comma-separated list of ro, rw,
// z, Z (accepted: no SELinux relabelling here) and a propagation mode. Paths are
// normalised. The destination may not be "/" nor reserved_destination().
BindMount parse_volume(std::string_view text, const std::filesystem::path& cwd = "/");

// Docker's --mount value: "type=bind|volume|tmpfs,source=...,target=...,readonly,..." with the
// options of each type. A bind or volume mount goes to binds, a tmpfs to tmpfs.
void parse_mount(std::string_view text, const std::filesystem::path& cwd,
                 std::vector<BindMount>& binds, std::vector<TmpfsMount>& tmpfs);

// --volumes-from CONTAINER[:ro|rw]: the container and the mode ("" keeps each mount's own).
std::pair<std::string, std::string> parse_volumes_from(std::string_view text);

// Appends the volumes and binds of another container (`donor`) as --volumes-from mounts them: at
// the same destinations, read-only with mode "ro", read-write with "rw", else as the donor has
// them. They stay the donor's: never anonymous here, so removing this container keeps them. A
// destination binds has already (-v, --mount, an earlier --volumes-from) keeps its mount.
void add_volumes_from(std::vector<BindMount>& binds, const std::vector<BindMount>& donor,
                      std::string_view mode);

// --tmpfs "DEST[:OPTIONS]".
TmpfsMount parse_tmpfs(std::string_view text);

// Why nothing may be mounted at `destination` (absolute, normalised), completing "destination
// can't be ...": inside /proc or /sys, or /dev and what gctool sets up there (its device nodes,
// /dev/pts, /dev/shm, /dev/mqueue, /dev/console, the fd links). nullopt when it may.
std::optional<std::string> reserved_destination(std::string_view destination);

// Docker's --device value: "HOST[:CONTAINER[:PERMISSIONS]]" (or "HOST:PERMISSIONS"), both paths
// absolute, the permissions a combination of r, w and m.
DeviceMapping parse_device(std::string_view text);

// The nodes of the --device mappings, from the host nodes as they are now. Throws
// Error::invalid when a host path is not a character or block device.
std::vector<DeviceNode> device_nodes(const Spec& spec);

// The container's cgroup resources: the limits as given and the device rules, which are the
// spec's own when it has some, else every device with --privileged, else Docker's defaults.
cgroup::Resources container_resources(const Spec& spec);

// Docker's command: an explicit --entrypoint replaces the image's Entrypoint and drops its Cmd;
// a command on the command line replaces Cmd. Returns {entrypoint, cmd}.
std::pair<std::vector<std::string>, std::vector<std::string>> resolve_command(
    const std::vector<std::string>& image_entrypoint, const std::vector<std::string>& image_cmd,
    const std::optional<std::string>& cli_entrypoint, const std::vector<std::string>& cli_cmd);

// Appends "K=V" entries to env, a later value for a key replacing the earlier one in place.
void merge_env(std::vector<std::string>& env, const std::vector<std::string>& more);

// Docker's `-e` entries: "K=V" as is, "K" takes K from `lookup` (the caller's environment) and is
// dropped when unset there.
std::vector<std::string> expand_env_args(
    const std::vector<std::string>& args,
    const std::function<std::optional<std::string>(const std::string&)>& lookup);

// The lines of an --env-file: blank lines and '#' comments skipped, other lines as `-e`. A
// variable name with a blank in it is invalid input.
std::vector<std::string> parse_env_file(std::string_view text);

// The value of key in a "K=V" list, if any.
std::optional<std::string> env_value(const std::vector<std::string>& env, std::string_view key);

// The container's environment before its user is known: PATH (the image's, else the standard
// one), HOSTNAME, TERM=xterm with a tty, then spec.env. HOME is added by init from /etc/passwd.
std::vector<std::string> base_environment(const Spec& spec, const std::string& hostname);

// /dev/shm's size without --shm-size, as Docker's.
inline constexpr std::int64_t kDefaultShmSize = 64 * 1024 * 1024;

inline constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace gctool::container
