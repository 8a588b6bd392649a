#include "init.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "gctool/cgroup/layout.hpp"
#include "gctool/container/init.hpp"
#include "gctool/container/spec.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"
#include "gctool/fs/mount.hpp"
#include "gctool/fs/rootfs.hpp"
#include "gctool/fs/safe_path.hpp"
#include "gctool/sys/pty.hpp"
#include "gctool/sys/seccomp.hpp"
#include "hooks.hpp"

namespace gctool::oci {
namespace {

std::string receive(BorrowedFd sync, char expected) {
  // The message's size first: a buffer for the largest one costs a page fault per 4 KiB.
  ssize_t n = 0;
  while ((n = ::recv(sync.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC)) < 0 && errno == EINTR) {
  }
  std::string buffer(static_cast<std::size_t>(std::max<ssize_t>(n, 1)), '\0');
  while ((n = ::recv(sync.get(), buffer.data(), buffer.size(), 0)) < 0 && errno == EINTR) {
  }
  if (n <= 0 || buffer[0] != expected) {
    // The parent gave up: nothing to report to.
    ::_exit(1);
  }
  return buffer.substr(1, static_cast<std::size_t>(n) - 1);
}

void send_byte(BorrowedFd sync, char byte) {
  check(::send(sync.get(), &byte, 1, MSG_NOSIGNAL), "sync with the runtime");
}

bool in_new_userns(const Config& c) {
  const auto* ns = c.find_namespace(CLONE_NEWUSER);
  return ns != nullptr && ns->path.empty();
}

// cgroup v1 hierarchies at destination: each one mounted afresh inside a cgroup namespace, else
// the container's own cgroup bound from the host, as runc does.
void mount_cgroups(BorrowedFd root, const Mount& m, const std::string& cgroup_path, bool cgroupns) {
  const auto& layout = cgroup::host_layout();
  const std::string dest = fs::resolve_in_root(root, m.destination);
  const unsigned long flags = m.flags & ~MS_RDONLY;
  if (layout.mode == cgroup::CgroupMode::unified) {
    const UniqueFd target = fs::mkdir_all_in_root(root, dest);
    if (cgroupns) {
      fs::mount("cgroup2", fs::fd_path(target), "cgroup2", m.flags);
    } else {
      const UniqueFd t = fs::mkdir_all_in_root(root, dest);
      fs::mount((layout.unified_mount / cgroup_path).string(), fs::fd_path(t), "",
                MS_BIND | MS_REC);
    }
    return;
  }
  const UniqueFd top = fs::mkdir_all_in_root(root, dest);
  fs::mount("tmpfs", fs::fd_path(top), "tmpfs", flags, "mode=755");
  std::vector<std::filesystem::path> done;
  for (const auto& [controller, mount_point] : layout.controllers) {
    if (std::find(done.begin(), done.end(), mount_point) != done.end()) {
      continue;
    }
    done.push_back(mount_point);
    const auto name = mount_point.filename().string();
    const UniqueFd target = fs::mkdir_all_in_root(root, dest + "/" + name);
    if (cgroupns) {
      fs::mount("cgroup", fs::fd_path(target), "cgroup", m.flags, name);
    } else {
      fs::mount((mount_point / cgroup_path).string(), fs::fd_path(target), "", MS_BIND | MS_REC);
      if ((m.flags & MS_RDONLY) != 0) {
        // The fd names the directory under the new mount: open the mount itself.
        const UniqueFd mounted = fs::open_in_root(root, dest + "/" + name, O_PATH);
        fs::mount("", fs::fd_path(mounted), "", MS_BIND | MS_REMOUNT | MS_RDONLY | flags);
      }
    }
  }
  if ((m.flags & MS_RDONLY) != 0) {
    const UniqueFd mounted = fs::open_in_root(root, dest, O_PATH);
    fs::mount("", fs::fd_path(mounted), "tmpfs", MS_REMOUNT | MS_RDONLY | flags, "mode=755");
  }
}

void do_mount(BorrowedFd root, const Mount& m, const InitPlan& plan) {
  if (m.type == "cgroup" || m.type == "cgroup2") {
    mount_cgroups(root, m, plan.cgroup_path, plan.config->has_namespace(CLONE_NEWCGROUP));
    return;
  }
  const std::string dest = fs::resolve_in_root(root, m.destination);
  if (!m.bind) {
    const UniqueFd target = fs::mkdir_all_in_root(root, dest);
    try {
      fs::mount(m.source, fs::fd_path(target), m.type, m.flags & ~MS_REMOUNT, m.data);
    } catch (const Error& e) {
      if (m.type != "sysfs" || e.errno_value() != EPERM) {
        throw;
      }
      // sysfs belongs to the network namespace's owner: in a user namespace bind the host's.
      fs::mount("/sys", fs::fd_path(target), "", MS_BIND | MS_REC);
      const UniqueFd mounted = fs::open_in_root(root, dest, O_PATH);
      fs::mount("", fs::fd_path(mounted), "", MS_BIND | MS_REMOUNT | MS_RDONLY | m.flags);
    }
  } else {
    struct stat st {};
    check(::stat(m.source.c_str(), &st), "stat mount source \"{}\"", m.source);
    const UniqueFd target =
        S_ISDIR(st.st_mode) ? fs::mkdir_all_in_root(root, dest) : fs::touch_in_root(root, dest);
    fs::mount(m.source, fs::fd_path(target), "", MS_BIND | (m.recursive ? MS_REC : 0));
    const unsigned long remount =
        m.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                   MS_RELATIME | MS_STRICTATIME);
    if (remount != 0) {
      const UniqueFd again = fs::open_in_root(root, dest, O_PATH);
      fs::mount("", fs::fd_path(again), "", MS_BIND | MS_REMOUNT | remount);
    }
  }
  for (const auto flag : m.propagation) {
    const UniqueFd again = fs::open_in_root(root, dest, O_PATH);
    fs::mount("", fs::fd_path(again), "", flag);
  }
}

struct DefaultDevice {
  const char* path;
  unsigned major;
  unsigned minor;
};
constexpr DefaultDevice kDefaultDevices[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5},
                                             {"/dev/full", 1, 7},    {"/dev/random", 1, 8},
                                             {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

// A node made with mknod, or in a user namespace (where mknod is refused) the host's node bound.
void make_device(BorrowedFd root, const Device& d, bool userns) {
  const std::filesystem::path path(d.path);
  const UniqueFd parent = fs::mkdir_all_in_root(root, path.parent_path().string());
  const auto name = path.filename();
  if (userns) {
    const UniqueFd target = fs::touch_in_root(root, d.path);
    fs::mount(d.path, fs::fd_path(target), "", MS_BIND);
    return;
  }
  ::unlinkat(parent.get(), name.c_str(), 0);
  const mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  check(::mknodat(parent.get(), name.c_str(), type | (d.mode & 07777), makedev(d.major, d.minor)),
        "mknod {}", d.path);
  check(::fchmodat(parent.get(), name.c_str(), d.mode & 07777, 0), "chmod {}", d.path);
  check(::fchownat(parent.get(), name.c_str(), d.uid, d.gid, 0), "chown {}", d.path);
}

void make_devices(BorrowedFd root, const Config& c) {
  const bool userns = in_new_userns(c);
  for (const auto& def : kDefaultDevices) {
    const bool configured = std::any_of(c.devices.begin(), c.devices.end(),
                                        [&](const Device& d) { return d.path == def.path; });
    if (!configured) {
      make_device(root, Device{def.path, 'c', def.major, def.minor, 0666, 0, 0}, userns);
    }
  }
  for (const auto& d : c.devices) {
    make_device(root, d, userns);
  }
  const UniqueFd dev = fs::mkdir_all_in_root(root, "/dev");
  const std::pair<const char*, const char*> links[] = {
      {"pts/ptmx", "ptmx"},          {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"},
      {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"}};
  for (const auto& [target, name] : links) {
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST) {
      throw_errno("symlink /dev/{} -> {}", name, target);
    }
  }
}

// A masked or read-only path outside /proc and /sys, opened without following it; none when it
// is under those (apply_path_restrictions takes them) or does not exist.
UniqueFd open_other_path(BorrowedFd root, const std::string& path) {
  if (path.starts_with("/proc/") || path.starts_with("/sys/")) {
    return {};
  }
  try {
    return fs::open_in_root(root, path, O_PATH | O_NOFOLLOW);
  } catch (const Error& e) {
    if (e.errno_value() == ENOENT) {
      return {};
    }
    throw;
  }
}

// Masked paths outside /proc and /sys (the library's apply_path_restrictions takes those): files
// get /dev/null, directories an empty read-only tmpfs; read-only paths a read-only bind.
void restrict_other_paths(BorrowedFd root, BorrowedFd null, const Config& c) {
  for (const auto& path : c.masked_paths) {
    const UniqueFd target = open_other_path(root, path);
    if (!target) {
      continue;
    }
    struct stat st {};
    check(::fstat(target.get(), &st), "stat {}", path);
    if (S_ISDIR(st.st_mode)) {
      fs::mount("tmpfs", fs::fd_path(target), "tmpfs", MS_RDONLY, "size=0k");
    } else {
      fs::mount(fs::fd_path(null), fs::fd_path(target), "", MS_BIND);
    }
  }
  for (const auto& path : c.readonly_paths) {
    const UniqueFd target = open_other_path(root, path);
    if (!target) {
      continue;
    }
    fs::mount(fs::fd_path(target), fs::fd_path(target), "", MS_BIND | MS_REC);
    const UniqueFd again = fs::open_in_root(root, path, O_PATH | O_NOFOLLOW);
    fs::mount("", fs::fd_path(again), "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC);
  }
}

std::vector<std::string> proc_sys_paths(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    if (p.starts_with("/proc/") || p.starts_with("/sys/")) {
      out.push_back(p);
    }
  }
  return out;
}

// The pty's slave is also bound on /dev/console, in a mount namespace of the container's own.
void setup_console(BorrowedFd console_socket, bool own_mounts) {
  auto pty = sys::open_pty("/dev/ptmx");
  if (own_mounts) {
    const UniqueFd console(
        check(::open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600), "create /dev/console"));
    fs::mount(fs::fd_path(pty.slave), "/dev/console", "bind", MS_BIND);
  }
  sys::send_fd(console_socket, pty.master);
  sys::make_controlling_tty(pty.slave);
}

void write_sysctls(const Config& c) {
  for (const auto& [key, value] : c.sysctl) {
    std::string path = key;
    std::replace(path.begin(), path.end(), '.', '/');
    if (path.find("..") != std::string::npos) {
      throw_invalid("invalid sysctl \"{}\"", key);
    }
    write_existing_file("/proc/sys/" + path, value);
  }
}

// Blocks until `start` opens the fifo for reading, then tells it we are going.
void wait_for_start(BorrowedFd state_dir) {
  const UniqueFd fifo(
      check(::openat(state_dir.get(), "exec.fifo", O_WRONLY | O_CLOEXEC), "open the exec fifo"));
  const char byte = '0';
  check(::write(fifo.get(), &byte, 1), "write the exec fifo");
}

// Without a mount namespace of its own the process shares the caller's mounts: nothing is
// mounted (it would stay behind in that namespace), the process is only chrooted into the root.
void enter_root_without_mount_namespace(const Config& c, BorrowedFd sync) {
  send_byte(sync, kSyncMounted);
  receive(sync, kSyncPivot);
  check(::chdir(c.rootfs.c_str()), "chdir {}", c.rootfs);
  check(::chroot("."), "chroot {}", c.rootfs);
  check(::chdir("/"), "chdir /");
  write_sysctls(c);
}

void build_and_enter_root(const InitPlan& plan, BorrowedFd sync) {
  const Config& c = *plan.config;
  if (!c.has_namespace(CLONE_NEWNS)) {
    enter_root_without_mount_namespace(c, sync);
    return;
  }
  // Nothing done here may propagate back to the host; rootfsPropagation is applied at the end.
  fs::mount("", "/", "", MS_SLAVE | MS_REC);
  fs::mount(c.rootfs.string(), c.rootfs, "", MS_BIND | MS_REC);
  const UniqueFd root(
      check(::open(c.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open {}", c.rootfs));
  for (const auto& m : c.mounts) {
    do_mount(root, m, plan);
  }
  make_devices(root, c);
  const UniqueFd null = fs::open_in_root(root, "/dev/null", O_PATH | O_NOFOLLOW);
  send_byte(sync, kSyncMounted);
  receive(sync, kSyncPivot);
  if (plan.no_pivot) {
    check(::chdir(c.rootfs.c_str()), "chdir {}", c.rootfs);
    fs::mount(".", "/", "", MS_MOVE);
    check(::chroot("."), "chroot");
    check(::chdir("/"), "chdir /");
  } else {
    fs::pivot_root_into(c.rootfs);
  }
  if (c.rootfs_propagation != 0) {
    fs::mount("", "/", "", c.rootfs_propagation);
  }
  const UniqueFd new_root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  write_sysctls(c);
  const auto masked = proc_sys_paths(c.masked_paths);
  const auto readonly = proc_sys_paths(c.readonly_paths);
  const auto status = sys::apply_path_restrictions(new_root, null, masked, readonly);
  if (!status.ok()) {
    throw Error(status.error, fmt::format("{} \"{}\"", status.step != nullptr ? status.step : "",
                                          status.path != nullptr ? status.path : ""));
  }
  restrict_other_paths(new_root, null, c);
  if (c.root_readonly) {
    fs::mount("", "/", "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC);
  }
}

void init_body(const InitPlan& plan) {
  const Config& c = *plan.config;
  container::reset_signals();
  // Nothing in the container may open this process's /proc files until execve.
  check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
  const std::string state = receive(plan.sync, kSyncGo);
  if (in_new_userns(c)) {
    check(::setresgid(0, 0, 0), "setgid 0 in the user namespace");
    check(::setresuid(0, 0, 0), "setuid 0 in the user namespace");
  }
  if (c.has_namespace(CLONE_NEWCGROUP) && c.find_namespace(CLONE_NEWCGROUP)->path.empty()) {
    // Now that the parent has placed us: our cgroup becomes the namespace's root.
    check(::unshare(CLONE_NEWCGROUP), "unshare the cgroup namespace");
  }
  if (c.process.terminal) {
    check(::setsid(), "setsid");
  }
  build_and_enter_root(plan, plan.sync);
  if (c.hostname) {
    check(::sethostname(c.hostname->data(), c.hostname->size()), "sethostname \"{}\"", *c.hostname);
  }
  if (c.domainname) {
    check(::setdomainname(c.domainname->data(), c.domainname->size()), "setdomainname \"{}\"",
          *c.domainname);
  }
  if (c.process.terminal) {
    setup_console(plan.console_socket, c.has_namespace(CLONE_NEWNS));
  }
  if (c.process.oom_score_adj) {
    write_existing_file("/proc/self/oom_score_adj", std::to_string(*c.process.oom_score_adj));
  }
  find_executable(c.process.args.front(), c.process.env);
  // Ready: `create` returns. From here on failures go to the container's stderr.
  ::close(plan.report.get());
  try {
    wait_for_start(plan.state_dir);
    run_hooks(c.hooks.start_container, "startContainer", state);
    enter_process(c.process, plan.security, plan.preserve_fds, in_new_userns(c));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gctool-oci: container init: %s\n", e.what());
    ::_exit(1);
  }
}

}  // namespace

std::string find_executable(const std::string& file, const std::vector<std::string>& env) {
  auto executable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
  };
  if (file.find('/') != std::string::npos) {
    if (!executable(file)) {
      throw Error(ENOENT, fmt::format("exec: \"{}\": stat {}", file, file));
    }
    return file;
  }
  const auto path =
      container::env_value(env, "PATH").value_or(std::string(container::kDefaultPath));
  for (std::size_t start = 0; start <= path.size();) {
    const auto colon = path.find(':', start);
    const auto dir =
        path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    start = colon == std::string::npos ? path.size() + 1 : colon + 1;
    const auto candidate = (dir.empty() ? "." : dir) + "/" + file;
    if (executable(candidate)) {
      return candidate;
    }
  }
  throw Error(ENOENT, fmt::format("exec: \"{}\": executable file not found in $PATH", file));
}

void enter_process(const Process& p, const sys::SecurityOptions& security, int preserve_fds,
                   bool new_userns) {
  for (const auto& r : p.rlimits) {
    const rlimit limit{r.soft, r.hard};
    check(::setrlimit(r.resource, &limit), "setrlimit {}", r.resource);
  }
  if (p.umask) {
    ::umask(*p.umask);
  }
  // Every file is opened before the seccomp filter, which may not allow openat2.
  const UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  const UniqueFd cwd = fs::mkdir_all_in_root(root, p.cwd);
  std::vector<std::string> env = p.env;
  if (!container::env_value(env, "HOME")) {
    env.push_back("HOME=/");
    // The user's home from the container's /etc/passwd, when it lists the uid.
    std::optional<std::string> passwd;
    try {
      passwd = fs::read_regular_file_in_root(root, "/etc/passwd", 16 << 20);
    } catch (const Error& e) {
      // The file is reopened through /proc/self/fd, which a root without a mount namespace of its
      // own lacks: HOME stays "/" there.
      if (e.errno_value() != ENOENT || ::access("/proc/self/fd", F_OK) == 0) {
        throw;
      }
    }
    if (passwd) {
      for (const auto line : split(*passwd, '\n')) {
        const auto f = split(line, ':');
        if (f.size() >= 6 && f[2] == std::to_string(p.uid)) {
          env.back() = "HOME=" + std::string(f[5]);
          break;
        }
      }
    }
  }
  const std::string exe = find_executable(p.args.front(), env);
  check(::close_range(3 + preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC), "close_range");
  if (const auto st = sys::apply_security_before_user(security); !st.ok()) {
    throw Error(st.error, st.step != nullptr ? st.step : "security");
  }
  // setgroups is refused in a user namespace whose setgroups file says deny.
  if (::setgroups(p.additional_gids.size(), p.additional_gids.data()) != 0 &&
      !(new_userns && errno == EPERM)) {
    throw_errno("setgroups");
  }
  check(::setresgid(p.gid, p.gid, p.gid), "setgid {}", p.gid);
  check(::setresuid(p.uid, p.uid, p.uid), "setuid {}", p.uid);
  check(::fchdir(cwd.get()), "chdir {}", p.cwd);
  if (const auto st = sys::apply_security_after_user(security); !st.ok()) {
    throw Error(st.error, st.step != nullptr ? st.step : "security");
  }
  std::vector<char*> argv;
  for (const auto& a : p.args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  ::execve(exe.c_str(), argv.data(), envp.data());
  throw_errno("exec \"{}\"", p.args.front());
}

void run_container_init(const InitPlan& plan) noexcept {
  container::run_child(plan.report, [&plan] { init_body(plan); });
}

}  // namespace gctool::oci
