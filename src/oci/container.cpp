#include "container.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "cgroup_setup.hpp"
#include "config.hpp"
#include "gctool/container/init.hpp"
#include "gctool/core/atomic_file.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/pipe.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/core/time.hpp"
#include "gctool/sys/clone.hpp"
#include "gctool/sys/pidfd.hpp"
#include "gctool/sys/seccomp.hpp"
#include "gctool/sys/seccomp_profile.hpp"
#include "hooks.hpp"
#include "init.hpp"

namespace gctool::oci {
namespace {

void send(BorrowedFd sync, char byte, const std::string& payload = {}) {
  const std::string message = byte + payload;
  check(::send(sync.get(), message.data(), message.size(), MSG_NOSIGNAL), "sync with the init");
}

// Waits for the init's byte; on EOF the init failed and its report says why.
void expect(BorrowedFd sync, BorrowedFd report, char byte) {
  char got = 0;
  ssize_t n = 0;
  while ((n = ::recv(sync.get(), &got, 1, 0)) < 0 && errno == EINTR) {
  }
  if (n == 1 && got == byte) {
    return;
  }
  container::read_init_report(report);
  throw Error(EPROTO, "container init: ended without a report");
}

}  // namespace

UniqueFd connect_console_socket(const std::filesystem::path& path) {
  UniqueFd sock(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof addr.sun_path) {
    throw_invalid("console socket path \"{}\" is too long", path.string());
  }
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  check(::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
        "connect to the console socket \"{}\"", path.string());
  return sock;
}

namespace {

void write_id_map(pid_t pid, const char* file, const std::vector<IdMapping>& maps) {
  std::string text;
  for (const auto& m : maps) {
    text += fmt::format("{} {} {}\n", m.container_id, m.host_id, m.size);
  }
  if (!text.empty()) {
    write_existing_file(fmt::format("/proc/{}/{}", pid, file), text);
  }
}

void check_lsm(const Config& c) {
  if (!c.process.apparmor_profile.empty()) {
    const auto enabled = try_read_file("/sys/module/apparmor/parameters/enabled");
    if (!enabled || enabled->front() != 'Y') {
      throw_invalid("config.json: apparmorProfile \"{}\" given but AppArmor is not enabled",
                    c.process.apparmor_profile);
    }
    throw_invalid("config.json: apparmorProfile is not supported by gctool-oci yet");
  }
  if (!c.process.selinux_label.empty()) {
    throw_invalid("config.json: selinuxLabel given but SELinux is not enabled");
  }
}

Config config_of(const State& state) {
  // The bundle may be gone by delete: the config was kept in the state.
  Config c;
  c.doc = state.config;
  const auto& hooks = state.config.value("hooks", nlohmann::json::object());
  auto list = [&hooks](const char* key) {
    std::vector<Hook> out;
    for (const auto& h : hooks.value(key, nlohmann::json::array())) {
      Hook hook;
      hook.path = h.value("path", "");
      hook.args = h.value("args", std::vector<std::string>{});
      hook.env = h.value("env", std::vector<std::string>{});
      if (h.contains("timeout")) {
        hook.timeout = h.at("timeout").get<int>();
      }
      out.push_back(hook);
    }
    return out;
  };
  c.hooks.poststart = list("poststart");
  c.hooks.poststop = list("poststop");
  return c;
}

}  // namespace

sys::SecurityOptions security_of(const std::filesystem::path& root, const Process& p,
                                 const std::optional<nlohmann::json>& seccomp) {
  sys::SecurityOptions s;
  const auto available = sys::available_capabilities();
  // A capability the kernel knows but this process cannot hand on (not in its bounding set) is
  // an error, as the spec asks and crun and runc do; one the kernel does not know is left out.
  const auto requested =
      p.caps.bounding | p.caps.effective | p.caps.permitted | p.caps.inheritable | p.caps.ambient;
  if (const auto missing = requested & sys::all_capabilities(sys::kernel_last_cap()) & ~available;
      missing != 0) {
    throw_invalid("process.capabilities: {} cannot be granted: not in gctool-oci's bounding set",
                  fmt::join(sys::capability_names(missing), ", "));
  }
  s.caps = p.caps;
  s.caps.bounding &= available;
  s.caps.effective &= available;
  s.caps.permitted &= available;
  s.caps.inheritable &= available;
  // The kernel refuses an ambient capability that is not both permitted and inheritable; runc
  // leaves it out with a warning.
  s.caps.ambient &= available & s.caps.permitted & s.caps.inheritable;
  s.last_cap = sys::kernel_last_cap();
  s.no_new_privs = p.no_new_privileges;
  if (seccomp) {
    if (seccomp->value("defaultAction", "") == "SCMP_ACT_NOTIFY") {
      throw_invalid("config.json: seccomp action SCMP_ACT_NOTIFY is not supported by gctool-oci");
    }
    const auto profile =
        sys::parse_seccomp_profile(seccomp->dump(), "config.json linux.seccomp", s.caps.bounding);
    s.seccomp = sys::load_or_compile_seccomp(profile, seccomp_cache_dir(root));
  }
  return s;
}

Created create_container(const std::filesystem::path& root, const CreateOptions& o) {
  validate_id(o.id);
  const Config config = load_config(o.bundle);
  check_lsm(config);
  if (config.process.terminal && o.console_socket.empty()) {
    throw_invalid("process.terminal needs --console-socket");
  }
  sys::SecurityOptions security = security_of(root, config.process, config.seccomp);
  security.masked_paths = {};
  security.readonly_paths = {};
  std::filesystem::create_directories(root);
  const auto dir = container_dir(root, o.id);
  if (::mkdir(dir.c_str(), 0711) != 0) {
    if (errno == EEXIST) {
      throw_invalid("container \"{}\" already exists", o.id);
    }
    throw_errno("mkdir {}", dir.string());
  }
  ScopeExit remove_dir([&dir] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  check(::mkfifo((dir / "exec.fifo").c_str(), 0622), "mkfifo {}", (dir / "exec.fifo").string());
  check(::chmod((dir / "exec.fifo").c_str(), 0622), "chmod exec.fifo");
  const UniqueFd state_dir(
      check(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open {}", dir.string()));

  const auto cg_path = cgroup_path(config.cgroups_path, o.id);
  // The parents a cgroupsPath needs are ours to remove too, with the container.
  const auto cg_ancestor = new_cgroup_ancestor(cg_path);
  ScopeExit remove_ancestors(
      [&cg_path, &cg_ancestor] { remove_new_cgroup_ancestors(cg_path, cg_ancestor); });
  auto cgroup = create_cgroup(cg_path, config.cgroup);
  // Runs after kill_child below (destructors in reverse order): once the process is gone.
  ScopeExit remove_extra([&cg_path] { remove_extra_cgroups(cg_path); });

  UniqueFd console;
  if (config.process.terminal) {
    console = connect_console_socket(o.console_socket);
  }
  // Namespaces to join, opened before this process enters any of them.
  std::vector<std::pair<int, UniqueFd>> joins;
  std::uint64_t new_flags = 0;
  std::uint64_t all_flags = 0;
  for (const auto& ns : config.namespaces) {
    all_flags |= ns.flag;
    if (ns.path.empty()) {
      if (ns.flag != CLONE_NEWCGROUP) {
        new_flags |= ns.flag;
      }
      continue;
    }
    UniqueFd fd(
        check(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC), "open namespace \"{}\"", ns.path));
    joins.emplace_back(ns.flag, std::move(fd));
  }
  // A user namespace first: the others belong to it.
  std::stable_sort(joins.begin(), joins.end(), [](const auto& a, const auto& b) {
    return a.first == CLONE_NEWUSER && b.first != CLONE_NEWUSER;
  });
  int pair[2];
  check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), "socketpair");
  UniqueFd sync(pair[0]);
  UniqueFd child_sync(pair[1]);
  auto report = make_pipe();

  InitPlan plan;
  plan.config = &config;
  plan.security = std::move(security);
  plan.cgroup_path = cgroup.path();
  plan.preserve_fds = o.preserve_fds;
  plan.no_pivot = o.no_pivot;
  plan.sync = child_sync.borrow();
  plan.report = report.write.borrow();
  plan.console_socket = console.borrow();
  plan.state_dir = state_dir.borrow();

  for (const auto& [flag, fd] : joins) {
    check(::setns(fd.get(), flag), "join namespace {}", config.find_namespace(flag)->path);
  }
  const UniqueFd cgroup_dir = cgroup.open_dir();
  auto child = sys::clone_with_pidfd(new_flags, cgroup_dir.borrow());
  if (!child) {
    run_container_init(plan);
  }
  child_sync.reset();
  report.write.reset();
  ScopeExit kill_child([&child] {
    sys::pidfd_signal(child->pidfd.borrow(), SIGKILL);
    sys::pidfd_wait(child->pidfd.borrow());
  });

  State state;
  state.id = o.id;
  state.pid = child->pid;
  state.start_time = process_start_time(child->pid).value_or(0);
  state.bundle = config.bundle;
  state.rootfs = config.rootfs;
  state.created = format_rfc3339_nano(std::chrono::system_clock::now());
  state.cgroup_path = cgroup.path();
  state.cgroup_ancestor = cg_ancestor;
  state.namespaces = all_flags;
  state.annotations = config.annotations;
  state.config = config.doc;

  join_cgroup(cgroup.path(), child->pid);
  if ((new_flags & CLONE_NEWUSER) != 0) {
    write_id_map(child->pid, "uid_map", config.uid_mappings);
    write_id_map(child->pid, "gid_map", config.gid_mappings);
  }
  save_state(root, state);
  const std::string hook_state = state_json(state, "created").dump();
  run_hooks(config.hooks.prestart, "prestart", hook_state);
  run_hooks(config.hooks.create_runtime, "createRuntime", hook_state);
  send(sync.borrow(), kSyncGo, hook_state);
  expect(sync.borrow(), report.read.borrow(), kSyncMounted);
  run_hooks(config.hooks.create_container, "createContainer", hook_state, child->pidfd.borrow());
  send(sync.borrow(), kSyncPivot);
  // EOF without a message: the init is ready and blocks on the fifo.
  container::read_init_report(report.read.borrow());
  if (!o.pid_file.empty()) {
    write_file_atomic(std::filesystem::absolute(o.pid_file), std::to_string(child->pid),
                      Durability::fast);
  }
  cgroup.release();
  remove_extra.release();
  remove_ancestors.release();
  kill_child.release();
  remove_dir.release();
  return Created{std::move(state), std::move(child->pidfd)};
}

void start_container(const std::filesystem::path& root, const State& state) {
  const auto dir = container_dir(root, state.id);
  const auto fifo_path = dir / "exec.fifo";
  if (!std::filesystem::exists(fifo_path)) {
    throw_invalid("cannot start a container that has {}",
                  status_of(root, state) == "stopped" ? "stopped" : "already started");
  }
  const UniqueFd pidfd = open_process(state);
  if (!pidfd.valid()) {
    throw_invalid("cannot start a container that has stopped");
  }
  const UniqueFd fifo(check(::open(fifo_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC), "open {}",
                            fifo_path.string()));
  // The init opens the fifo for writing once we have it open for reading, then writes a byte.
  for (;;) {
    pollfd fds[2] = {{fifo.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    check(::poll(fds, 2, 100), "poll the exec fifo");
    char byte = 0;
    const auto n = ::read(fifo.get(), &byte, 1);
    if (n == 1) {
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      throw Error(ESRCH, "start: the container's process has exited");
    }
  }
  std::filesystem::remove(fifo_path);
  const Config config = config_of(state);
  try {
    run_hooks(config.hooks.poststart, "poststart", state_json(state, "running").dump());
  } catch (const Error&) {
    // The spec: a failing poststart hook is logged, the container goes on.
  }
}

void delete_container(const std::filesystem::path& root, const std::string& id, bool force) {
  const State state = load_state(root, id);
  const auto status = status_of(root, state);
  if (status != "stopped" && !force) {
    throw_invalid("cannot delete container \"{}\" that is not stopped: {}", id, status);
  }
  if (const UniqueFd pidfd = open_process(state); pidfd.valid()) {
    sys::pidfd_signal(pidfd.borrow(), SIGKILL);
    // Not our child: wait for the exit by polling the pidfd.
    pollfd p{pidfd.get(), POLLIN, 0};
    ::poll(&p, 1, 5000);
  }
  remove_cgroup(state.cgroup_path);
  remove_new_cgroup_ancestors(state.cgroup_path, state.cgroup_ancestor);
  const Config config = config_of(state);
  std::error_code ec;
  std::filesystem::remove_all(container_dir(root, id), ec);
  try {
    run_hooks(config.hooks.poststop, "poststop", state_json(state, "stopped").dump());
  } catch (const Error&) {
    // The spec: a failing poststop hook is logged, the deletion stands.
  }
}

}  // namespace gctool::oci
