#include "gctool/container/init.hpp"

#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/std.h>

#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"
#include "gctool/fs/copy_tree.hpp"
#include "gctool/fs/mount.hpp"
#include "gctool/fs/rootfs.hpp"
#include "gctool/fs/safe_path.hpp"
#include "gctool/sys/pty.hpp"
#include "gctool/sys/users.hpp"

namespace gctool::container {
namespace {

enum class ReportKind : std::int32_t { error = 1, invalid = 2, exec = 3 };

// One message per failure; smaller than PIPE_BUF so that the write is atomic.
struct Report {
  ReportKind kind = ReportKind::error;
  std::int32_t err = 0;
  char context[2048] = {};
};
static_assert(sizeof(Report) <= PIPE_BUF);

[[noreturn]] void fail(BorrowedFd report, ReportKind kind, int err, std::string_view context) {
  Report message;
  message.kind = kind;
  message.err = err;
  const auto n = std::min(context.size(), sizeof message.context - 1);
  std::memcpy(message.context, context.data(), n);
  [[maybe_unused]] const auto written = ::write(report.get(), &message, sizeof message);
  ::_exit(125);
}

void wait_for_parent(BorrowedFd sync) {
  char go = 0;
  ssize_t n = 0;
  while ((n = ::read(sync.get(), &go, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) {
    // The parent died or gave up before releasing us: nothing to report to.
    ::_exit(125);
  }
}

void loopback_up() {
  const UniqueFd sock(check(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket"));
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  check(::ioctl(sock.get(), SIOCGIFFLAGS, &req), "get flags of lo");
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
  check(::ioctl(sock.get(), SIOCSIFFLAGS, &req), "set lo up");
}

// As Docker: an empty named volume gets what the image has at its mount point, copied without
// following any symlink (the image's nor the volume's).
void fill_empty_volume(BorrowedFd root, const std::string& resolved, const std::string& data) {
  const UniqueFd to(check(::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
                          "open volume \"{}\"", data));
  if (fs::directory_empty(to)) {
    fs::copy_tree(fs::open_in_root(root, resolved, O_RDONLY | O_DIRECTORY), to);
  }
}

// The --device nodes, with the host node's mode; missing directories (/dev/net) are made.
void make_device_nodes(BorrowedFd root, const std::vector<DeviceNode>& devices) {
  for (const auto& node : devices) {
    const std::filesystem::path path(node.path);
    const UniqueFd parent = fs::mkdir_all_in_root(root, path.parent_path().string());
    const auto name = path.filename();
    const dev_t dev = makedev(node.major, node.minor);
    const mode_t type = node.type == 'b' ? S_IFBLK : S_IFCHR;
    check(::mknodat(parent.get(), name.c_str(), type | node.mode, dev), "mknod {}", node.path);
    // mknod is subject to the umask.
    check(::fchmodat(parent.get(), name.c_str(), node.mode, 0), "chmod {}", node.path);
  }
}

// --tmpfs: a tmpfs at the destination, made as a volume's is (resolved inside the root).
void mount_tmpfs(BorrowedFd root, const TmpfsMount& tmpfs) {
  const std::string resolved = fs::resolve_in_root(root, tmpfs.destination);
  if (const auto why = reserved_destination("/" + resolved)) {
    throw_invalid("tmpfs destination \"{}\" leads to \"/{}\": can't be {}", tmpfs.destination,
                  resolved, *why);
  }
  const UniqueFd target = fs::mkdir_all_in_root(root, resolved);
  const auto data = tmpfs_mount_data(tmpfs.options);
  fs::mount("tmpfs", fs::fd_path(target), "tmpfs", data.flags, data.data);
}

// Mounts of the container below its root, before pivot_root while host paths are reachable.
// Returns the container's /dev/null (see fs::setup_dev), the source of the masks.
UniqueFd build_rootfs(const InitConfig& c) {
  // Nothing done in this mount namespace may propagate back to the host.
  fs::mount("", "/", "", MS_PRIVATE | MS_REC);
  fs::mount_overlay(c.layer_dirs, c.upper, c.work, c.rootfs, c.upper_layer);
  const UniqueFd root(
      check(::open(c.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open {}", c.rootfs));
  fs::mount_proc_and_sys(root);
  UniqueFd null = fs::setup_dev(root, c.shm_size, c.shm_source);
  make_device_nodes(root, c.devices);
  // Parents before children: "/data" must be mounted before "/data/sub", whatever their kind.
  std::vector<std::pair<const BindMount*, const TmpfsMount*>> mounts;
  for (const auto& bind : c.binds) {
    mounts.emplace_back(&bind, nullptr);
  }
  for (const auto& tmpfs : c.tmpfs) {
    mounts.emplace_back(nullptr, &tmpfs);
  }
  const auto depth = [](const auto& m) {
    const std::string& d = m.first != nullptr ? m.first->destination : m.second->destination;
    return std::count(d.begin(), d.end(), '/');
  };
  std::stable_sort(mounts.begin(), mounts.end(),
                   [&](const auto& a, const auto& b) { return depth(a) < depth(b); });
  for (const auto& [bind_ptr, tmpfs] : mounts) {
    if (tmpfs != nullptr) {
      mount_tmpfs(root, *tmpfs);
      continue;
    }
    const BindMount& bind = *bind_ptr;
    struct stat st {};
    check(::stat(bind.source.c_str(), &st), "stat volume source \"{}\"", bind.source);
    // A symlink in the image may lead the destination elsewhere in the root, never out of it;
    // /proc, /sys and what setup_dev made stay off limits whatever the path to them.
    const std::string resolved = fs::resolve_in_root(root, bind.destination);
    if (const auto why = reserved_destination("/" + resolved)) {
      throw_invalid("volume destination \"{}\" leads to \"/{}\": can't be {}", bind.destination,
                    resolved, *why);
    }
    const UniqueFd target = S_ISDIR(st.st_mode) ? fs::mkdir_all_in_root(root, resolved)
                                                : fs::touch_in_root(root, resolved);
    if (!bind.volume.empty()) {
      fill_empty_volume(root, resolved, bind.source);
    }
    fs::bind_mount(bind.source, target, bind.read_only);
  }
  if (!c.init_binary.empty()) {
    const UniqueFd target = fs::touch_in_root(root, kInitPath, 0755);
    fs::bind_mount(c.init_binary, target, true, false);
  }
  // Bound before the parent's go: the parent may still rewrite them (the address in hosts), in
  // place, so the container sees the final content.
  for (const auto& [host_file, container_path] : c.etc_files) {
    const UniqueFd target = fs::touch_in_root(root, container_path);
    fs::bind_mount(host_file, target, false, false);
  }
  return null;
}

// A pty from the container's own devpts: the slave becomes the console and stdio, the master
// goes to the parent.
void setup_console(const InitConfig& c) {
  auto pty = sys::open_pty("/dev/ptmx");
  const UniqueFd console(
      check(::open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600), "create /dev/console"));
  fs::mount(fs::fd_path(pty.slave), "/dev/console", "bind", MS_BIND);
  sys::send_fd(c.console_socket, pty.master);
  sys::make_controlling_tty(pty.slave);
}

// Far larger than any real /etc/passwd or /etc/group; a bound on what a hostile image can make
// the init read.
constexpr std::size_t kMaxUserFileSize = 16 << 20;

sys::ExecUser switch_user(const std::string& spec, const std::vector<std::string>& group_add) {
  const UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  const auto passwd =
      fs::read_regular_file_in_root(root, "/etc/passwd", kMaxUserFileSize).value_or("");
  const auto group =
      fs::read_regular_file_in_root(root, "/etc/group", kMaxUserFileSize).value_or("");
  auto user = sys::resolve_exec_user(spec, passwd, group);
  for (const auto& name : group_add) {
    const gid_t gid = sys::resolve_group(name, group);
    if (std::find(user.supplementary_gids.begin(), user.supplementary_gids.end(), gid) ==
        user.supplementary_gids.end()) {
      user.supplementary_gids.push_back(gid);
    }
  }
  check(::setgroups(user.supplementary_gids.size(), user.supplementary_gids.data()), "setgroups");
  check(::setresgid(user.gid, user.gid, user.gid), "setgid {}", user.gid);
  check(::setresuid(user.uid, user.uid, user.uid), "setuid {}", user.uid);
  return user;
}

void enter_workdir(const std::string& dir, bool create) {
  const std::string path = dir.empty() ? "/" : dir;
  if (path.front() != '/') {
    throw_invalid("the working directory \"{}\" is not absolute", path);
  }
  const UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  // Through the fd resolved in the root, never the path again: a path like /proc/self/fd/N must
  // not lead to a directory of the host.
  const UniqueFd target = create ? fs::mkdir_all_in_root(root, path)
                                 : fs::open_in_root(root, path, O_PATH | O_DIRECTORY);
  check(::fchdir(target.get()), "chdir to the working directory \"{}\"", path);
}

// --sysctl: written through /proc/sys opened before it was made read-only, in the container's
// own namespaces (the names were checked to be namespaced ones).
void write_sysctls(BorrowedFd proc_sys, const std::map<std::string, std::string>& sysctls) {
  for (const auto& [name, value] : sysctls) {
    std::string path = name;
    std::replace(path.begin(), path.end(), '.', '/');
    const UniqueFd file(
        check(::openat(proc_sys.get(), path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC),
              "sysctl {}", name));
    write_all(file.borrow(), value, fmt::format("sysctl {}", name));
  }
}

// /sys/fs/cgroup as Docker shows it with a private cgroup namespace: the container's own cgroup,
// read-only. Called after the go, when the init is in its cgroup (on v1 the clone happened
// before the cgroup existed): a cgroup namespace made now is rooted there, and so is every cgroup
// filesystem mounted in it. Exec'd processes join this namespace through pid 1.
void mount_cgroups(const InitConfig& c) {
  if (c.cgroup_mounts.empty()) {
    return;
  }
  if (!c.cgroupns_host) {
    check(::unshare(CLONE_NEWCGROUP), "unshare the cgroup namespace");
  }
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (!c.cgroup_writable) {
    flags |= MS_RDONLY;
  }
  const std::filesystem::path top = "/sys/fs/cgroup";
  if (c.cgroup_mounts.size() == 1 && c.cgroup_mounts.front().dir.empty()) {
    const auto& m = c.cgroup_mounts.front();
    fs::mount(m.fstype, top, m.fstype, flags, m.options);
    return;
  }
  // v1: a tmpfs holding one directory per hierarchy, and a link per co-mounted controller
  // (cpu -> cpu,cpuacct), as Docker lays it out.
  fs::mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
  for (const auto& m : c.cgroup_mounts) {
    const auto dir = top / m.dir;
    check(::mkdir(dir.c_str(), 0555), "mkdir {}", dir);
    fs::mount(m.fstype, dir, m.fstype, flags, m.options);
    if (c.cgroupns_host) {
      // The hierarchy's root in the host's namespace: only the container's cgroup is shown.
      fs::mount((dir / c.cgroup_path).string(), dir, "", MS_BIND);
      fs::mount("", dir, "", MS_REMOUNT | MS_BIND | flags);  // a bind is read-write until then
    }
    if (m.options.find(',') != std::string::npos) {
      for (const auto& name : gctool::split(m.options, ',')) {
        if (name == m.dir) {
          continue;
        }
        const auto link = top / std::string(name);
        check(::symlink(m.dir.c_str(), link.c_str()), "symlink {}", link);
      }
    }
  }
  fs::mount("", top, "", MS_REMOUNT | MS_BIND | flags);
}

// A failed security step becomes the init's report: `apply seccomp: Invalid argument`, or with
// the path for the path steps.
void check_security(BorrowedFd report, const sys::SecurityStatus& status) {
  if (status.ok()) {
    return;
  }
  const char* step = status.step != nullptr ? status.step : "security";
  fail(report, ReportKind::error, status.error,
       status.path != nullptr ? fmt::format("{} \"{}\"", step, status.path) : std::string(step));
}

// execvpe with the container's PATH rather than gctool's. Returns the errno to report.
int exec_command(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<char*> argv;
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  const std::string& file = args.front();
  if (file.find('/') != std::string::npos) {
    ::execve(file.c_str(), argv.data(), envp.data());
    return errno;
  }
  const std::string path = env_value(env, "PATH").value_or(std::string(kDefaultPath));
  int result = ENOENT;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    start = colon == std::string::npos ? path.size() + 1 : colon + 1;
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + file;
    ::execve(candidate.c_str(), argv.data(), envp.data());
    // As execvp: remember that something was found but not executable, go on otherwise.
    if (errno == EACCES || errno == ENOEXEC) {
      result = errno;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      return errno;
    }
  }
  return result;
}

}  // namespace

void reset_signals() noexcept {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      ::signal(sig, SIG_DFL);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void run_child(BorrowedFd report, const std::function<void()>& body) noexcept {
  try {
    body();
  } catch (const Error& e) {
    const bool invalid = e.errno_value() == EINVAL && e.context() == e.what();
    fail(report, invalid ? ReportKind::invalid : ReportKind::error, e.errno_value(), e.context());
  } catch (const std::exception& e) {
    fail(report, ReportKind::invalid, EINVAL, e.what());
  }
  ::_exit(125);
}

void exec_container_command(BorrowedFd report, const CommandConfig& c) {
  // In the order of gctool/sys/security.hpp: the bounding set and PR_SET_KEEPCAPS while still
  // root, the user, then capsets, ambient, no_new_privs and last the seccomp filter (it may
  // forbid what came before).
  if (c.security != nullptr) {
    check_security(report, sys::apply_security_before_user(*c.security));
  }
  for (const auto& limit : c.ulimits) {
    const auto value = [](std::int64_t v) {
      return v < 0 ? RLIM_INFINITY : static_cast<rlim_t>(v);
    };
    const rlimit rl{value(limit.soft), value(limit.hard)};
    check(::setrlimit(ulimit_resource(limit.name), &rl), "setrlimit {}={}:{}", limit.name,
          limit.soft, limit.hard);
  }
  enter_workdir(c.working_dir, c.create_working_dir);
  const auto user = switch_user(c.user, c.group_add);
  std::vector<std::string> env = c.env;
  if (!env_value(env, "HOME")) {
    env.push_back("HOME=" + user.home);
  }
  if (c.security != nullptr) {
    check_security(report, sys::apply_security_after_user(*c.security));
  }
  // Nothing of gctool may reach the command; the report pipe closes on a successful exec.
  check(::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC), "close_range");
  const int err = exec_command(c.args, env);
  fail(report, ReportKind::exec, err, fmt::format("exec \"{}\"", c.args.front()));
}

void run_init(const InitConfig& c) noexcept {
  run_child(c.report, [&c] {
    reset_signals();
    // Until the execve: nothing of the container may open this process's /proc files, among
    // them /proc/PID/exe, gctool's executable.
    check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
    // The container dies with whoever spawned it, so a killed `gctool run` leaves no orphan.
    check(::prctl(PR_SET_PDEATHSIG, SIGKILL), "prctl PR_SET_PDEATHSIG");
    check(::setsid(), "setsid");
    if (c.oom_score_adj) {
      // Before the capabilities go: lowering it needs CAP_SYS_RESOURCE. Inherited through exec.
      const UniqueFd adj(check(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC),
                               "open /proc/self/oom_score_adj"));
      write_all(adj.borrow(), std::to_string(*c.oom_score_adj), "oom_score_adj");
    }
    if (c.ipc_namespace.valid()) {
      check(::setns(c.ipc_namespace.get(), CLONE_NEWIPC), "join the IPC namespace");
    }
    if (c.net_namespace.valid()) {
      check(::setns(c.net_namespace.get(), CLONE_NEWNET), "join the network namespace");
    }
    const UniqueFd null = build_rootfs(c);
    if (c.set_hostname) {
      check(::sethostname(c.hostname.data(), c.hostname.size()), "sethostname \"{}\"", c.hostname);
      if (!c.domainname.empty()) {
        check(::setdomainname(c.domainname.data(), c.domainname.size()), "setdomainname \"{}\"",
              c.domainname);
      }
    }
    if (c.own_netns) {
      loopback_up();
    }
    fs::pivot_root_into(c.rootfs);
    if (c.tty) {
      setup_console(c);
    } else if (c.stdin_fd.valid()) {
      check(::dup2(c.stdin_fd.get(), 0), "dup2 stdin");
    }
    if (c.read_only_rootfs) {
      fs::remount_read_only("/");
    }
    UniqueFd proc_sys;
    if (!c.sysctls.empty()) {
      proc_sys.reset(
          check(::open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /proc/sys"));
    }
    // Masked and read-only paths need mount(2): before the rest of the security settings.
    if (const auto* security = c.command.security; security != nullptr) {
      const UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
      check_security(c.report, sys::apply_path_restrictions(root, null, security->masked_paths,
                                                            security->readonly_paths));
    }
    // The mounts above ran while the parent placed us in the cgroup and the network (a cgroup v1
    // move waits for an RCU grace period); nothing from here on may run before that.
    wait_for_parent(c.sync);
    mount_cgroups(c);
    // After the go: the network's interfaces (net.ipv4.conf.eth0.*) are in place.
    write_sysctls(proc_sys.borrow(), c.sysctls);
    exec_container_command(c.report, c.command);
  });
}

int InitError::exit_code() const noexcept {
  if (!exec_failed_) {
    return 125;
  }
  return errno_value() == ENOENT ? 127 : 126;
}

void read_init_report(BorrowedFd report, std::string_view who) {
  Report message;
  ssize_t n = 0;
  while ((n = ::read(report.get(), &message, sizeof message)) < 0 && errno == EINTR) {
  }
  if (n < 0) {
    throw_errno("read the container init's report");
  }
  if (n == 0) {
    return;
  }
  if (static_cast<std::size_t>(n) != sizeof message) {
    throw Error(EPROTO, fmt::format("{}: truncated report", who));
  }
  message.context[sizeof message.context - 1] = '\0';
  if (message.kind == ReportKind::invalid) {
    throw Error::invalid(fmt::format("{}: {}", who, message.context));
  }
  throw InitError(message.err, message.context, message.kind == ReportKind::exec, who);
}

}  // namespace gctool::container
