#include "gctool/container/runtime.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <set>
#include <thread>

#include <fmt/std.h>
#include "gctool/cgroup/driver.hpp"
#include "gctool/cgroup/layout.hpp"
#include "gctool/cgroup/v1_driver.hpp"
#include "gctool/container/events.hpp"
#include "gctool/container/init.hpp"
#include "gctool/container/namespace_modes.hpp"
#include "gctool/container/network.hpp"
#include "gctool/container/volume.hpp"

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/core/time.hpp"
#include "gctool/io/process.hpp"
#include "gctool/net/attach.hpp"
#include "gctool/net/network.hpp"
#include "gctool/sys/clone.hpp"
#include "gctool/sys/pidfd.hpp"
#include "gctool/sys/pty.hpp"

namespace gctool::container {

namespace fsys = std::filesystem;

using namespace std::chrono_literals;

namespace {

// `rename`, `network connect` and `disconnect` change the stored record's name and network
// settings, `update` its limits, while a supervisor holds the container's record in memory: take
// them over before it starts the container again or writes the record back. Called with the
// store's lock held or where a stale read is harmless (a connect that races a start is attached
// by net::connect itself).
void take_stored_settings(const ContainerStore& store, Record& record) noexcept {
  try {
    if (const auto stored = store.load(record.id)) {
      record.name = stored->name;
      record.spec.name = stored->name;
      record.spec.connected_networks = stored->spec.connected_networks;
      record.spec.network_mode_disconnected = stored->spec.network_mode_disconnected;
      record.spec.resources = stored->spec.resources;  // `update`
    }
  } catch (const std::exception&) {
    // A broken record is replaced by ours.
  }
}

// How long a command waits for a live owner to record what the kernel already shows.
constexpr auto kSettleTimeout = 5s;

std::string now_rfc3339() {
  return format_rfc3339_nano(std::chrono::system_clock::now());
}

ProcessId self_process() {
  const pid_t pid = ::getpid();
  return ProcessId{pid, process_start_time(pid).value_or(0)};
}

// Docker's name rule, one character allowed: what is safe on a line of /etc/hosts.
bool valid_hostname(std::string_view name) {
  return name.size() == 1 ? std::isalnum(static_cast<unsigned char>(name[0])) != 0
                          : valid_name(name);
}

std::filesystem::path& init_helper() {
  static std::filesystem::path helper;
  return helper;
}

// --ipc, --pid and --network container:NAME: the running container whose namespace (ns: "ipc",
// "pid" or "net") is joined, checked as Docker checks it, and that namespace as an nsfd.
struct Donor {
  Record record;
  UniqueFd ns;
};
Donor open_donor(const ContainerStore& store, std::string_view name, std::string_view ns) {
  const std::string_view what = ns == "ipc" ? "IPC" : ns == "pid" ? "PID" : "network";
  Record donor = [&] {
    try {
      return inspect_container(store, name);
    } catch (const Error& e) {
      // As Docker: a missing donor is a bad run flag (125), not a missing container (1).
      throw_invalid("--{} container:{}: {}", ns == "net" ? "network" : ns, name, e.what());
    }
  }();
  if (!donor.running() || !alive(donor.state.process)) {
    throw_invalid("cannot join {} of a non running container: {}", what, name);
  }
  if (ns == "ipc" && donor.spec.ipc_mode != "shareable" && donor.spec.ipc_mode != "host") {
    throw_invalid(
        "cannot join IPC of container {}: non-shareable IPC (hint: use --ipc shareable for the "
        "donor container)",
        name);
  }
  const pid_t pid = donor.state.process.pid;
  UniqueFd fd(::open(fmt::format("/proc/{}/ns/{}", pid, ns).c_str(), O_RDONLY | O_CLOEXEC));
  // Checked after the open: the namespace is the donor's, not a reused pid's.
  if (!fd.valid() || !process_matches(pid, donor.state.process.start_time)) {
    throw_invalid("cannot join {} of a non running container: {}", what, name);
  }
  return Donor{std::move(donor), std::move(fd)};
}

// A shareable container's /dev/shm (--ipc shareable), as Docker keeps it: a tmpfs mounted on the
// host side, under the container's directory, so that a container joining its IPC namespace can
// bind it although the two have mount namespaces of their own. Mounted while the container runs.
bool is_mount_point(const fsys::path& path) {
  struct stat st {};
  struct stat parent {};
  return ::stat(path.c_str(), &st) == 0 && ::stat(path.parent_path().c_str(), &parent) == 0 &&
         st.st_dev != parent.st_dev;
}

void mount_shareable_shm(const fsys::path& shm, std::int64_t size) {
  if (is_mount_point(shm)) {
    return;  // a restart: still there
  }
  if (::mkdir(shm.c_str(), 01777) != 0 && errno != EEXIST) {
    throw_errno("create {}", shm);
  }
  check(::mount("shm", shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                fmt::format("mode=1777,size={}", size).c_str()),
        "mount the shareable /dev/shm on {}", shm);
}

// The joined container's /dev/shm: the host's with --ipc host, else its host-side tmpfs.
fsys::path donor_shm(const ContainerStore& store, const Record& donor) {
  if (donor.spec.ipc_mode == "host") {
    return "/dev/shm";
  }
  const auto shm = store.shm_dir(donor.id);
  if (!is_mount_point(shm)) {
    throw_invalid("cannot join IPC of container {}: its /dev/shm is not shareable (restart it)",
                  donor.name);
  }
  return shm;
}

// What the init mounts at /sys/fs/cgroup: cgroup2, or on v1 each hierarchy the container's cgroup
// is in, mounted with all of its controllers (co-mounted ones share a hierarchy). Nothing
// without cgroup namespaces.
std::vector<CgroupMount> cgroup_mounts(const cgroup::CgroupDriver& driver) {
  if ((container_namespace_flags() & CLONE_NEWCGROUP) == 0) {
    return {};
  }
  if (driver.version() != 1) {
    return {CgroupMount{"", "cgroup2", ""}};
  }
  const auto* v1 = dynamic_cast<const cgroup::V1Driver*>(&driver);
  if (v1 == nullptr) {
    return {};
  }
  std::vector<CgroupMount> mounts;
  for (const auto& hierarchy : v1->hierarchies()) {
    std::string options;
    for (const auto& [controller, mount] : cgroup::host_layout().controllers) {
      if (mount == hierarchy) {
        options += (options.empty() ? "" : ",") + controller;
      }
    }
    mounts.push_back(CgroupMount{hierarchy.filename().string(), "cgroup", options});
  }
  return mounts;
}

// Overlayfs cannot hold an overlay's upper dir: a data root on the root filesystem of a container
// (gctool run inside one) would fail at the mount, deep inside the start.
void check_root_filesystem(const fsys::path& root) {
  struct statfs fs {};
  if (::statfs((root / "containers").c_str(), &fs) != 0 && ::statfs(root.c_str(), &fs) != 0) {
    return;  // what uses the root reports it
  }
  if (fs.f_type == OVERLAYFS_SUPER_MAGIC) {
    throw_invalid(
        "the data root {} is on overlayfs, which cannot hold a container's writable layer: put "
        "--root on another filesystem (a volume or a tmpfs)",
        root);
  }
}

void validate(const fsys::path& root, const Spec& spec) {
  check_root_filesystem(root);
  if (!spec.name.empty() && !valid_name(spec.name)) {
    throw_invalid("invalid container name \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                  spec.name);
  }
  // What the init would only find out after everything was created.
  if (!spec.working_dir.empty() && spec.working_dir.front() != '/') {
    throw_invalid("the working directory \"{}\" is invalid: it needs to be an absolute path",
                  spec.working_dir);
  }
  // Both become lines of /etc/hosts (and /etc/hostname): a newline would add lines of its own.
  for (const auto& [what, name] :
       {std::pair{"hostname", &spec.hostname}, std::pair{"domainname", &spec.domainname}}) {
    if (name->size() > HOST_NAME_MAX) {
      throw_invalid("invalid {} \"{}\": longer than {} characters", what, *name, HOST_NAME_MAX);
    }
    if (!name->empty() && !valid_hostname(*name)) {
      throw_invalid(
          "invalid {} \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (no spaces or "
          "control characters)",
          what, *name);
    }
  }
  cgroup::validate(container_resources(spec));
  // Its warnings are the CLI's to print (build_spec asks again).
  cgroup::host_driver()->check_supported(spec.resources);
  for (const auto& bind : spec.binds) {
    if (const auto why = reserved_destination(bind.destination)) {
      throw_invalid("invalid mount destination \"{}\": can't be {}", bind.destination, *why);
    }
    struct stat st {};
    if (bind.volume.empty() && !bind.anonymous && ::stat(bind.source.c_str(), &st) != 0) {
      throw_invalid("invalid mount config for type \"bind\": bind source path does not exist: {}",
                    bind.source);
    }
  }
  std::vector<std::string> destinations;
  for (const auto& bind : spec.binds) {
    destinations.push_back(bind.destination);
  }
  for (const auto& tmpfs : spec.tmpfs) {
    tmpfs_mount_data(tmpfs.options);
    destinations.push_back(tmpfs.destination);
  }
  std::sort(destinations.begin(), destinations.end());
  if (const auto dup = std::adjacent_find(destinations.begin(), destinations.end());
      dup != destinations.end()) {
    throw_invalid("duplicate mount point: {}", *dup);
  }
  for (const auto& limit : spec.ulimits) {
    ulimit_resource(limit.name);
  }
  if (spec.shm_size && *spec.shm_size <= 0) {
    throw_invalid("invalid --shm-size: must be greater than 0");
  }
  check_namespace_mode("--pid", spec.pid_mode);
  check_namespace_mode("--uts", spec.uts_mode);
  check_namespace_mode("--ipc", spec.ipc_mode);
  if (shares_host_uts(spec) && !spec.hostname.empty()) {
    throw_invalid("conflicting options: hostname and the UTS mode");
  }
  if (shares_host_uts(spec) && !spec.domainname.empty()) {
    throw_invalid("conflicting options: domainname and the UTS mode");
  }
  if (!mode_container(spec.network_mode).empty() && !spec.hostname.empty()) {
    throw_invalid("conflicting options: hostname and the network mode");
  }
  if (spec.shm_size && joins_ipc(spec)) {
    throw_invalid("conflicting options: --shm-size and --ipc {}", spec.ipc_mode);
  }
  for (const auto& [name, value] : spec.sysctls) {
    parse_sysctl(name + "=" + value);
  }
  check_sysctls(spec);
  if (spec.init && init_helper().empty()) {
    throw_invalid("--init: gctool-init was not found next to gctool");
  }
  if (spec.entrypoint.empty() && spec.cmd.empty()) {
    throw_invalid("no command specified");
  }
  if (spec.layer_dirs.empty()) {
    throw_invalid("image \"{}\" has no layers", spec.image_ref);
  }
  // Last: it looks at the networks and the host's ports, the other checks are cheaper.
  validate_network(root, spec);
}

// The host's name, which a container sharing the host's network takes by default (as Docker).
std::string host_hostname() {
  char name[256] = {};
  check(::gethostname(name, sizeof name - 1), "gethostname");
  return name;
}

// Kills what is left in the container's cgroup and removes it; nothing when it is gone already.
void release_cgroup(const std::string& path) {
  if (path.empty()) {
    return;
  }
  const auto driver = cgroup::host_driver();
  if (!driver->exists(path)) {
    return;
  }
  auto handle = cgroup::CgroupHandle::open(driver, path);
  handle.kill_and_remove();
}

// Waits until the process (not our child) has exited, via a pidfd; false on timeout.
bool wait_gone(const ProcessId& process, std::chrono::milliseconds timeout) {
  if (!alive(process)) {
    return true;
  }
  auto pidfd = sys::try_pidfd_open(process.pid);
  if (!pidfd || !alive(process)) {
    return true;
  }
  pollfd pfd{pidfd->get(), POLLIN, 0};
  return ::poll(&pfd, 1, static_cast<int>(timeout.count())) > 0;
}

// SIGKILLs the process, when it is still the one recorded, and waits until it is gone.
void kill_and_wait(const ProcessId& process, std::string_view what) {
  if (auto pidfd = sys::try_pidfd_open(process.pid); pidfd && alive(process)) {
    sys::pidfd_signal(*pidfd, SIGKILL);
  }
  if (!wait_gone(process, 10s)) {
    throw Error(EBUSY, fmt::format("{} did not exit", what));
  }
}

// Whether the record's owner is a live process other than this one.
bool owned_by_other(const Record& record) {
  return record.owner.pid != ::getpid() && alive(record.owner);
}

// Whether a live owner is about to change the record: pid 1 has exited but the exit is not
// recorded yet, or the owner is between recording an exit and ending, or between taking the
// container over and starting it. Acting on such a record races the owner (`kill; start` finding
// it still running, `rm` removing a container about to restart). Restarting is a state of its own.
// other_owner_alive: owned_by_other(record), when the caller knows it already.
bool in_transition(const Record& record, bool other_owner_alive) {
  if (!other_owner_alive) {
    return false;
  }
  switch (record.state.status) {
    case Status::running:
      return !alive(record.state.process);
    case Status::restarting:
      return false;
    case Status::created:
    case Status::exited:
      return true;
  }
  return false;
}

bool in_transition(const Record& record) {
  return in_transition(record, owned_by_other(record));
}

// The stored record of id brought in line with reality; nullopt when it is gone. The caller
// holds the store lock.
std::optional<Record> load_reconciled(const ContainerStore& store, std::string_view id) {
  auto record = store.load(id);
  if (!record) {
    return std::nullopt;
  }
  return reconcile(store, std::move(*record));
}

// The reconciled record of id with the store lock held, once no live owner is about to change
// it. The lock is released while waiting (the owner needs it to save), at most kSettleTimeout;
// after that the record is taken as it is.
struct Settled {
  FileLock lock;
  std::optional<Record> record;
};
Settled load_settled(const ContainerStore& store, std::string_view id) {
  const auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  for (;;) {
    auto lock = store.lock();
    auto record = load_reconciled(store, id);
    if (!record || !in_transition(*record) || std::chrono::steady_clock::now() > deadline) {
      return Settled{std::move(lock), std::move(record)};
    }
    lock.unlock();
    std::this_thread::sleep_for(10ms);
  }
}

// The id ref names, resolved under the store lock.
std::string resolve_locked(const ContainerStore& store, std::string_view ref) {
  const auto lock = store.lock();
  return store.resolve(ref);
}

// rm -f of a container whose record cannot be read: its owner (when salvaged) and what runs in
// its cgroup (named after the id) are killed, its network attachment released, its directory
// removed. The caller holds the store lock.
void remove_broken(const ContainerStore& store, const BrokenRecord& broken) {
  const ProcessId& owner = broken.identity.owner;
  if (owner.pid != 0 && owner.pid != ::getpid()) {
    kill_and_wait(owner, fmt::format("the owner of container {}", short_id(broken.id)));
  }
  release_cgroup(cgroup::container_cgroup_path(broken.id));
  try {
    net::detach(store.root(), broken.id);
  } catch (const std::exception&) {
    // Best effort: the next net::reconcile releases what no live record holds.
  }
  store.remove(broken.id);
}

}  // namespace

std::uint64_t container_namespace_flags() {
  static const bool has_cgroup_ns = ::access("/proc/self/ns/cgroup", F_OK) == 0;
  std::uint64_t flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
  if (has_cgroup_ns) {
    flags |= CLONE_NEWCGROUP;
  }
  return flags;
}

void use_init_helper(std::filesystem::path helper) {
  init_helper() = std::move(helper);
}

sys::SecurityOptions container_security(const ContainerStore& store, const Spec& spec) {
  sys::SecurityRequest request;
  request.cap_add = spec.cap_add;
  request.cap_drop = spec.cap_drop;
  request.privileged = spec.privileged;
  request.security_opts = spec.security_opts;
  request.seccomp_cache_dir = store.root() / "cache" / "seccomp";
  return sys::parse_security(request);
}

Container::Container(const ContainerStore& store, Record record, Durability durability,
                     std::optional<cgroup::CgroupHandle> cgroup)
    : store_(&store),
      record_(std::move(record)),
      durability_(durability),
      cgroup_(std::move(cgroup)) {}

Container::Container(Container&& other) noexcept
    : store_(other.store_),
      record_(std::move(other.record_)),
      durability_(other.durability_),
      cgroup_(std::move(other.cgroup_)),
      pidfd_(std::move(other.pidfd_)),
      console_(std::move(other.console_)),
      proxies_(std::move(other.proxies_)),
      reaped_(other.reaped_),
      started_(other.started_),
      finished_(std::exchange(other.finished_, true)),
      save_error_(std::move(other.save_error_)) {}

Container::~Container() {
  if (!finished_) {
    destroy();
  }
}

Container Container::create(const ContainerStore& store, Spec spec, Durability durability) {
  validate(store.root(), spec);
  if (const auto donor = mode_container(spec.ipc_mode); !donor.empty()) {
    donor_shm(store, open_donor(store, donor, "ipc").record);
  }
  if (const auto donor = mode_container(spec.pid_mode); !donor.empty()) {
    open_donor(store, donor, "pid");
  }
  std::string donor_hostname;
  if (const auto donor = mode_container(spec.network_mode); !donor.empty()) {
    // As Docker: the container takes the hostname of the one whose network it shares.
    donor_hostname = open_donor(store, donor, "net").record.hostname;
  }
  Record record;
  record.id = random_id();
  const bool generated_name = spec.name.empty();
  record.name = generated_name ? random_name() : spec.name;
  record.created = now_rfc3339();
  record.hostname = !donor_hostname.empty()                                 ? donor_hostname
                    : !spec.hostname.empty()                                ? spec.hostname
                    : own_network_namespace(spec) && !shares_host_uts(spec) ? short_id(record.id)
                                                                            : host_hostname();
  record.owner = self_process();
  record.cgroup_path = spec.cgroup_parent.empty()
                           ? cgroup::container_cgroup_path(record.id)
                           : cgroup::container_cgroup_path(record.id, spec.cgroup_parent);
  record.spec = std::move(spec);
  {
    const auto lock = store.lock();
    record.spec.name = record.name;
    // Under the lock: `volume rm` cannot take a volume away before the record refers to it.
    for (auto& bind : record.spec.binds) {
      if (bind.anonymous && bind.volume.empty()) {
        bind.volume = random_id();
      }
      if (!bind.volume.empty()) {
        bind.source = ensure_volume(store.root(), bind.volume, bind.anonymous).mountpoint.string();
      }
    }
    // A generated name that another container holds is drawn again, as Docker does, so
    // concurrent `run`s without --name never fail on each other.
    try {
      store.create(record, durability,
                   generated_name ? ContainerStore::NameConflict::draw_again
                                  : ContainerStore::NameConflict::fail);
    } catch (...) {
      remove_anonymous_volumes(store, record.spec.binds);
      throw;
    }
  }
  Container container(store, std::move(record), durability, std::nullopt);
  const fsys::path dir = store.dir(container.id());
  for (const char* sub : {"upper", "work", "merged"}) {
    check(::mkdir((dir / sub).c_str(), 0755), "create {}", dir / sub);
  }
  write_file(dir / "hostname", container.record_.hostname + "\n");
  write_network_files(store.root(), dir, container.record_);
  record_container_event(store, container.record_, "create");
  // The cgroup is made by start(), next to the clone.
  return container;
}

Container Container::restart(const ContainerStore& store, std::string_view ref,
                             Durability durability) {
  Record record;
  {
    auto settled = load_settled(store, resolve_locked(store, ref));
    if (!settled.record) {
      throw_invalid("no such container: {}", ref);
    }
    record = std::move(*settled.record);
    if (record.running() || owned_by_other(record)) {
      throw_invalid("container {} is already running", short_id(record.id));
    }
    record.owner = self_process();
    record.state.process = {};
    record.state.error.clear();
    store.save(record, durability);
  }
  // The cgroup is made by start(), as for a new container.
  return Container(store, std::move(record), durability, std::nullopt);
}

Container Container::adopt(const ContainerStore& store, std::string_view id) {
  std::optional<Record> record;
  {
    const auto lock = store.lock();
    record = store.load(id);
  }
  if (!record || record->owner != self_process()) {
    throw_invalid("container {} is not owned by this process", id);
  }
  std::optional<cgroup::CgroupHandle> cgroup;
  try {
    cgroup = cgroup::CgroupHandle::open(cgroup::host_driver(), record->cgroup_path);
  } catch (const Error&) {
    // Gone already: finish() has nothing to remove.
  }
  const Durability durability = record->spec.auto_remove ? Durability::fast : Durability::durable;
  Container container(store, std::move(*record), durability, std::move(cgroup));
  container.reaped_ = true;
  container.started_ = true;
  return container;
}

void Container::start(BorrowedFd stdin_fd) {
  const Spec& spec = record_.spec;
  reaped_ = false;
  const fsys::path dir = store_->dir(id());
  // Prepared before anything is opened: a bad flag fails here. The notices are the CLI's to print.
  const sys::SecurityOptions security = container_security(*store_, spec);
  int sync[2];
  int report[2];
  check(::pipe2(sync, O_CLOEXEC), "pipe");
  UniqueFd sync_read(sync[0]);
  UniqueFd sync_write(sync[1]);
  check(::pipe2(report, O_CLOEXEC), "pipe");
  UniqueFd report_read(report[0]);
  UniqueFd report_write(report[1]);
  UniqueFd console_parent;
  UniqueFd console_child;
  if (spec.tty) {
    int pair[2];
    check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), "socketpair");
    console_parent.reset(pair[0]);
    console_child.reset(pair[1]);
  }
  UniqueFd dev_null;
  if (!spec.tty && !stdin_fd.valid()) {
    dev_null.reset(check(::open("/dev/null", O_RDONLY | O_CLOEXEC), "open /dev/null"));
    stdin_fd = dev_null.borrow();
  }

  InitConfig init;
  init.rootfs = dir / "merged";
  init.upper = dir / "upper";
  init.work = dir / "work";
  init.layer_dirs = spec.layer_dirs;
  init.binds = spec.binds;
  init.tmpfs = spec.tmpfs;
  init.shm_size = spec.shm_size.value_or(kDefaultShmSize);
  init.devices = device_nodes(spec);
  init.etc_files = {{dir / "hostname", "/etc/hostname"},
                    {dir / "hosts", "/etc/hosts"},
                    {dir / "resolv.conf", "/etc/resolv.conf"}};
  init.read_only_rootfs = spec.read_only_rootfs;
  init.upper_layer = spec.auto_remove ? fs::UpperLayer::scratch : fs::UpperLayer::kept;
  init.own_netns = own_network_namespace(spec);
  init.tty = spec.tty;
  init.hostname = record_.hostname;
  init.domainname = spec.domainname;
  init.set_hostname = !shares_host_uts(spec);
  init.sysctls = spec.sysctls;
  Donor ipc_donor;
  if (spec.ipc_mode == "host") {
    init.shm_source = "/dev/shm";
  } else if (const auto donor = mode_container(spec.ipc_mode); !donor.empty()) {
    ipc_donor = open_donor(*store_, donor, "ipc");
    init.ipc_namespace = ipc_donor.ns.borrow();
    init.shm_source = donor_shm(*store_, ipc_donor.record);
  } else if (spec.ipc_mode == "shareable") {
    init.shm_source = store_->shm_dir(id());
    mount_shareable_shm(init.shm_source, init.shm_size);
  }
  Donor pid_donor;
  if (const auto donor = mode_container(spec.pid_mode); !donor.empty()) {
    pid_donor = open_donor(*store_, donor, "pid");
  }
  Donor net_donor;
  if (const auto donor = mode_container(spec.network_mode); !donor.empty()) {
    net_donor = open_donor(*store_, donor, "net");
    init.net_namespace = net_donor.ns.borrow();
    // The donor's own files, as Docker shares them: its address and resolver.
    const fsys::path donor_dir = store_->dir(net_donor.record.id);
    init.etc_files = {{dir / "hostname", "/etc/hostname"},
                      {donor_dir / "hosts", "/etc/hosts"},
                      {donor_dir / "resolv.conf", "/etc/resolv.conf"}};
  }
  init.command.user = spec.user;
  init.command.working_dir = spec.working_dir;
  init.command.args = record_.args();
  if (spec.init) {
    init.init_binary = init_helper();
    init.command.args.insert(init.command.args.begin(), {std::string(kInitPath), "--"});
  }
  init.command.group_add = spec.group_add;
  init.command.env = base_environment(spec, record_.hostname);
  init.command.ulimits = spec.ulimits;
  init.command.security = &security;
  init.sync = sync_read.borrow();
  init.report = report_write.borrow();
  init.console_socket = console_child.borrow();
  init.stdin_fd = stdin_fd;

  // On v2 the init starts in its cgroup (CLONE_INTO_CGROUP), which must exist first. On v1 the
  // cgroup is made after the clone: cgroupfs waits there until a MigrationWarmup's grace period
  // is over (the kernel holds cgroup_mutex through it), and the init builds its root meanwhile.
  const auto driver = cgroup::host_driver();
  init.cgroup_mounts = cgroup_mounts(*driver);
  init.cgroup_writable = spec.privileged;
  init.cgroupns_host = spec.cgroupns_mode == "host";
  init.cgroup_path = record_.cgroup_path;
  init.oom_score_adj = spec.oom_score_adj;
  if (!cgroup_ && driver->version() != 1) {
    make_cgroup(driver);
  }
  const UniqueFd cgroup_dir = cgroup_ ? cgroup_->open_dir() : UniqueFd();
  std::uint64_t flags = container_namespace_flags();
  if (init.cgroupns_host) {
    flags &= ~std::uint64_t{CLONE_NEWCGROUP};
  }
  if (!init.own_netns) {
    flags &= ~std::uint64_t{CLONE_NEWNET};
  }
  if (shares_host_pid(spec)) {
    flags &= ~std::uint64_t{CLONE_NEWPID};
  }
  if (shares_host_uts(spec)) {
    flags &= ~std::uint64_t{CLONE_NEWUTS};
  }
  if (joins_ipc(spec)) {
    flags &= ~std::uint64_t{CLONE_NEWIPC};
  }
  // --pid container:NAME: the init is born in the donor's pid namespace, which this process
  // enters for its children only, and leaves again right after the clone.
  UniqueFd own_pid_ns;
  if (pid_donor.ns) {
    flags &= ~std::uint64_t{CLONE_NEWPID};
    own_pid_ns.reset(check(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC), "open own pid ns"));
    check(::setns(pid_donor.ns.get(), CLONE_NEWPID), "join the pid namespace of {}",
          pid_donor.record.name);
  }
  const pid_t self = ::getpid();
  auto child = [&] {
    // In this process only: the init's children belong to the donor's namespace.
    const ScopeExit back([&] {
      if (own_pid_ns && ::getpid() == self) {
        ::setns(own_pid_ns.get(), CLONE_NEWPID);
      }
    });
    return sys::clone_with_pidfd(flags, cgroup_dir.borrow());
  }();
  if (!child) {
    run_init(init);
  }
  pidfd_ = std::move(child->pidfd);
  record_.state.process = ProcessId{child->pid, process_start_time(child->pid).value_or(0)};
  report_write.reset();
  console_child.reset();

  // The init builds its root filesystem meanwhile and waits for the go before its security
  // settings and exec.
  try {
    if (!cgroup_) {
      make_cgroup(driver);
    }
    if (cgroup_->version() == 1) {
      cgroup_->add_process(child->pid);
    }
    take_stored_settings(*store_, record_);
    setup_network(store_->root(), dir, record_, child->pid);
    proxies_ = open_port_proxies(record_);
  } catch (const Error&) {
    // The init may have failed on its own meanwhile: its report says why better than a cgroup
    // write to a process that is gone.
    sys::pidfd_signal(pidfd_, SIGKILL);
    sys::pidfd_wait(pidfd_);
    reaped_ = true;
    read_init_report(report_read);
    throw;
  }
  // Our own read end stays open until the go is written: an init that has already failed must
  // not turn the write into SIGPIPE.
  const char go = 'G';
  check(static_cast<int>(::write(sync_write.get(), &go, 1)), "release the container init");
  sync_write.reset();
  sync_read.reset();
  if (spec.tty) {
    if (auto master = sys::receive_fd(console_parent)) {
      console_ = std::move(*master);
    }
  }
  try {
    read_init_report(report_read);
  } catch (...) {
    sys::pidfd_wait(pidfd_);
    reaped_ = true;
    throw;
  }
  if (spec.tty && !console_.valid()) {
    throw Error(EPROTO, "container init: no console received");
  }
  // As Docker: the state of the last run goes when a new one starts.
  record_.state.status = Status::running;
  record_.state.started_at = now_rfc3339();
  record_.state.exit_code = 0;
  record_.state.oom_killed = false;
  record_.state.error.clear();
  save();
  started_ = true;
  // As Docker: its volumes' mounts, then the start; one write to the journal.
  std::vector<Event> events;
  for (const auto& bind : spec.binds) {
    if (!bind.volume.empty()) {
      events.push_back({"volume",
                        "mount",
                        bind.volume,
                        {{"container", id()},
                         {"destination", bind.destination},
                         {"driver", "local"},
                         {"read/write", bind.read_only ? "false" : "true"}}});
    }
  }
  events.push_back(container_event(record_, "start"));
  record_events(store_->root(), events);
}

void Container::make_cgroup(const std::shared_ptr<const cgroup::CgroupDriver>& driver) {
  cgroup_ =
      cgroup::CgroupHandle::create(driver, record_.cgroup_path, container_resources(record_.spec));
}

bool Container::kill(int sig) const {
  if (!pidfd_.valid() || reaped_) {
    return false;
  }
  return sys::pidfd_signal(pidfd_, sig);
}

int Container::wait() {
  return record_exit(sys::pidfd_wait(pidfd_));
}

int Container::record_exit(const siginfo_t& info, bool restarting) {
  reaped_ = true;
  const int code = io::exit_code(info);
  record_.state.status = restarting ? Status::restarting : Status::exited;
  if (restarting) {
    record_.state.process = {};
  }
  record_.state.exit_code = code;
  record_.state.finished_at = now_rfc3339();
  if (cgroup_) {
    try {
      record_.state.oom_killed = cgroup_->oom_killed();
    } catch (const Error&) {
      // Stats are best effort: the exit itself is what matters.
    }
  }
  // As Docker: "oom" (the cgroup's OOM killer struck) before "die"; one write to the journal.
  std::vector<Event> events;
  if (record_.state.oom_killed) {
    events.push_back(container_event(record_, "oom"));
  }
  events.push_back(container_event(record_, "die", {{"exitCode", std::to_string(code)}}));
  record_events(store_->root(), events);
  // The namespace is gone with pid 1; its ports, address and host veth go now, not at finish:
  // a restart attaches again.
  if (record_.network) {
    teardown_network(store_->root(), record_);
  }
  if (record_.spec.auto_remove && !restarting) {
    // finish() removes the record next: nobody could read what a save would write.
    return code;
  }
  try_save();
  return code;
}

void Container::cancel_restart(const std::string& error) {
  if (record_.state.status == Status::restarting) {
    record_.state.status = Status::exited;
    record_.state.process = {};
    record_.state.error = error;
    try_save();
  }
}

void Container::keep_created() {
  record_.owner = {};
  save();
  finished_ = true;
}

void Container::finish() {
  if (cgroup_) {
    cgroup_->kill_and_remove();
    cgroup_.reset();
  }
  store_->release_host_mounts(id());
  if (record_.network) {
    teardown_network(store_->root(), record_);
  }
  if (record_.spec.auto_remove) {
    std::filesystem::path detached;
    {
      const auto lock = store_->lock_if_present();
      if (!lock) {
        finished_ = true;  // the store (and with it the record) was removed under us
        return;
      }
      detached = store_->detach(id());
      remove_anonymous_volumes(*store_, record_.spec.binds);
      record_container_event(*store_, record_, "destroy");
    }
    // Gone from every listing already: its files are deleted without holding up the other
    // containers' creations and exits, which wait for the lock.
    ContainerStore::erase(detached);
  }
  finished_ = true;
}

void Container::save() {
  const auto lock = store_->lock_if_present();
  if (!lock) {
    throw Error(ENOENT, fmt::format("container store {} is gone", store_->root()));
  }
  take_stored_settings(*store_, record_);
  store_->save(record_, durability_);
}

bool Container::try_save() noexcept {
  try {
    save();
    save_error_.clear();
    return true;
  } catch (const std::exception& e) {
    save_error_ =
        fmt::format("could not save the state of container {}: {}", short_id(id()), e.what());
    return false;
  }
}

void Container::destroy() noexcept {
  proxies_.clear();
  if (pidfd_.valid() && !reaped_) {
    sys::pidfd_signal(pidfd_, SIGKILL);
    try {
      const siginfo_t info = sys::pidfd_wait(pidfd_);
      if (started_) {
        record_exit(info);
      }
    } catch (const std::exception&) {
    }
    reaped_ = true;
  }
  cgroup_.reset();  // the handle's destructor kills and removes the cgroup
  store_->release_host_mounts(id());
  teardown_network(store_->root(), record_);
  if (started_ && !record_.spec.auto_remove) {
    // It ran: its files and record (exited) stay for ps, logs, commit and rm, as after any exit.
    return;
  }
  try {
    if (const auto lock = store_->lock_if_present()) {
      store_->remove(id());
      remove_anonymous_volumes(*store_, record_.spec.binds);
    }
  } catch (const std::exception&) {
    // Best effort on an error path; the next reconcile or rm -f finishes the job.
  }
}

namespace {

// reconcile() of a record read with the given detail: one read for a listing is reloaded whole
// before it is changed (a listing's record is never saved).
std::optional<Record> reconcile_read(const ContainerStore& store, Record record,
                                     ContainerStore::Detail detail,
                                     bool* owner_alive_out = nullptr) {
  record.state.paused = false;
  if (record.state.status == Status::running && !record.cgroup_path.empty()) {
    try {
      record.state.paused = cgroup::host_driver()->frozen(record.cgroup_path);
    } catch (const Error&) {
      // Not readable: shown as not paused; pause and unpause say what is wrong.
    }
  }
  const bool owner_alive = alive(record.owner);
  // Nobody reaped it for us: the owner died first (and took the container with it through
  // PDEATHSIG).
  const bool lost =
      record.state.status == Status::running && !owner_alive && !alive(record.state.process);
  // The supervisor died during its back-off: nobody will start the container again.
  const bool abandoned = record.state.status == Status::restarting && !owner_alive;
  // Its creator died before starting it.
  const bool unstarted =
      record.state.status == Status::created && !owner_alive && record.owner.pid != 0;
  if (owner_alive_out != nullptr) {
    // Also right for a record changed below: only one whose owner is dead is.
    *owner_alive_out = owner_alive;
  }
  if (!lost && !abandoned && !unstarted) {
    return record;
  }
  if (detail == ContainerStore::Detail::listing) {
    const bool paused = record.state.paused;
    auto whole = store.load(record.id);
    if (!whole) {
      return std::nullopt;
    }
    record = std::move(*whole);
    record.state.paused = paused;
  }
  if (lost) {
    // The exit status is lost; SIGKILL is what ended it.
    record.state.status = Status::exited;
    record.state.exit_code = 128 + SIGKILL;
    record.state.finished_at = now_rfc3339();
    record.state.error = "gctool exited before the container";
    record.state.process = {};
  } else if (abandoned) {
    // It stays exited with the code of its last run.
    record.state.status = Status::exited;
    record.state.process = {};
  }
  release_cgroup(record.cgroup_path);
  store.release_host_mounts(record.id);
  teardown_network(store.root(), record);
  if (record.spec.auto_remove) {
    store.remove(record.id);
    remove_anonymous_volumes(store, record.spec.binds);
    return std::nullopt;
  }
  record.owner = {};
  try {
    store.save(record, Durability::durable);
  } catch (const Error&) {
    // Reading must not need disk space: the next command reconciles again.
  }
  return record;
}

}  // namespace

std::optional<Record> reconcile(const ContainerStore& store, Record record) {
  return reconcile_read(store, std::move(record), ContainerStore::Detail::whole);
}

std::vector<Record> list_containers(const ContainerStore& store, ContainerStore::Detail detail) {
  const auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  for (;;) {
    auto lock = store.lock();
    auto listing = store.scan(detail);
    store.remove_leftovers(listing);
    std::vector<Record> records;
    // Each owner's liveness is read from /proc once per record, not for each question asked.
    std::vector<bool> owner_alive;
    records.reserve(listing.records.size());
    const pid_t self = ::getpid();
    bool settled = true;
    for (auto& record : listing.records) {
      bool owner = false;
      if (auto current = reconcile_read(store, std::move(record), detail, &owner)) {
        settled = settled && !in_transition(*current, owner && current->owner.pid != self);
        records.push_back(std::move(*current));
        owner_alive.push_back(owner);
      }
    }
    if (!settled && std::chrono::steady_clock::now() < deadline) {
      lock.unlock();
      std::this_thread::sleep_for(10ms);
      continue;
    }
    // Addresses and attachments of containers that no longer live (a crash between allocating
    // and recording, say). With the store lock held no container can be created meanwhile, so
    // every attachment in progress belongs to a listed record whose owner is alive. A broken
    // record may belong to a live container: it keeps its address until rm -f. Taking the
    // networks lock also finishes the network changes cut short by a crash.
    std::set<std::string> live;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (records[i].running() || owner_alive[i]) {
        live.insert(records[i].id);
      }
    }
    for (const auto& b : listing.broken) {
      live.insert(b.id);
    }
    net::reconcile(store.root(), live);
    return records;
  }
}

Record inspect_container(const ContainerStore& store, std::string_view ref) {
  auto settled = load_settled(store, resolve_locked(store, ref));
  if (!settled.record) {
    throw_invalid("no such container: {}", ref);
  }
  return std::move(*settled.record);
}

std::string remove_container(const ContainerStore& store, std::string_view ref, bool force,
                             bool volumes) {
  const std::string id = [&] {
    const auto lock = store.lock();
    std::string found = store.resolve(ref);
    if (auto broken = store.load_broken(found)) {
      if (!force) {
        throw_invalid("cannot remove container {} without -f: {}", short_id(found), broken->error);
      }
      remove_broken(store, *broken);
      return std::string();
    }
    return found;
  }();
  if (id.empty()) {
    return id;
  }
  auto [lock, record] = load_settled(store, id);
  if (!record) {
    return id;
  }
  const bool process_alive = record->running() && alive(record->state.process);
  // A live owner other than this process: a supervisor (also while restarting), or a foreground
  // run, recording an exit or starting the container.
  const bool owner_alive = owned_by_other(*record);
  if (!force && (process_alive || owner_alive)) {
    throw_invalid("cannot remove {} container {}: stop it first or use -f",
                  record->state.status == Status::restarting ? "restarting" : "running",
                  short_id(record->id));
  }
  if (owner_alive && !process_alive) {
    // It would go on with a container that is gone (start it again, say). A container it is
    // starting dies with it (the init's parent-death signal).
    kill_and_wait(record->owner, fmt::format("the supervisor of container {}", short_id(id)));
  }
  if (process_alive) {
    release_cgroup(record->cgroup_path);
    kill_and_wait(record->state.process, fmt::format("container {}", short_id(id)));
  }
  release_cgroup(record->cgroup_path);
  teardown_network(store.root(), *record);
  store.remove(record->id);
  if (volumes || record->spec.auto_remove) {
    remove_anonymous_volumes(store, record->spec.binds);
  }
  record_container_event(store, *record, "destroy");
  return record->id;
}

void signal_container(const ContainerStore& store, std::string_view ref, int sig) {
  const auto record = inspect_container(store, ref);
  if (!record.running() || !alive(record.state.process)) {
    throw_invalid("container {} is not running", short_id(record.id));
  }
  auto pidfd = sys::try_pidfd_open(record.state.process.pid);
  if (!pidfd || !alive(record.state.process) || !sys::pidfd_signal(*pidfd, sig)) {
    throw_invalid("container {} is not running", short_id(record.id));
  }
}

int wait_container(const ContainerStore& store, std::string_view ref) {
  const std::string id = [&] {
    const auto lock = store.lock();
    return store.resolve(ref);
  }();
  while (true) {
    std::optional<Record> record;
    {
      const auto lock = store.lock();
      record = load_reconciled(store, id);
    }
    if (!record) {
      throw_invalid("no such container: {}", ref);
    }
    if (record->state.status == Status::exited) {
      return record->state.exit_code;
    }
    if (record->running()) {
      wait_gone(record->state.process, std::chrono::milliseconds(-1));
    }
    // The owner records the exit right after reaping; poll for it.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace gctool::container
