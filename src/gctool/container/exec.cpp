#include "gctool/container/exec.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gctool/cgroup/driver.hpp"
#include "gctool/container/events.hpp"
#include "gctool/container/init.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/pipe.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/core/proc_limits.hpp"
#include "gctool/sys/clone.hpp"
#include "gctool/sys/pidfd.hpp"
#include "gctool/sys/pty.hpp"

namespace gctool::container {
namespace {

constexpr std::string_view kWho = "exec";

// What the helper and the process it starts need, prepared before the fork.
struct ExecChild {
  pid_t init = 0;  // the container's pid 1 (host pid)
  BorrowedFd init_pidfd;
  std::uint64_t namespaces = 0;
  const cgroup::CgroupDriver* driver = nullptr;
  std::string cgroup_path;
  BorrowedFd cgroup_dir;  // v2: the child is cloned into it; v1: invalid, the helper joins
  bool tty = false;
  bool detach = false;
  BorrowedFd console_socket;  // with tty: the pty master goes to the caller through it
  BorrowedFd stdin_fd;        // without tty
  BorrowedFd dev_null;        // with detach
  BorrowedFd report;          // failures, as the init's
  BorrowedFd pid_out;         // the helper writes the process's pid here
  CommandConfig command;
};

// The same resource limits and OOM score as the container's pid 1, whatever the caller's are.
void copy_limits(pid_t init) {
  // From /proc: prlimit(2) on the pid 1 of another user (`run -u nobody`) needs CAP_SYS_RESOURCE.
  const std::vector<rlimit> limits = read_proc_limits(init);
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    const auto resource = static_cast<__rlimit_resource>(r);
    rlimit limit = limits[static_cast<std::size_t>(r)];
    if (::prlimit(0, resource, &limit, nullptr) != 0) {
      // Raising a hard limit needs CAP_SYS_RESOURCE, which not every host gives root: keep our
      // hard limit then, and the container's soft limit within it.
      rlimit own{};
      if (errno != EPERM || ::prlimit(0, resource, nullptr, &own) != 0) {
        throw_errno("set rlimit {}", r);
      }
      limit.rlim_max = std::min(limit.rlim_max, own.rlim_max);
      limit.rlim_cur = std::min(limit.rlim_cur, limit.rlim_max);
      check(::prlimit(0, resource, &limit, nullptr), "set rlimit {}", r);
    }
  }
  const auto score = read_file(fmt::format("/proc/{}/oom_score_adj", init));
  write_file("/proc/self/oom_score_adj", score);
}

// The process itself, inside every namespace of the container: its stdio, then the container's
// command as the init would run it.
[[noreturn]] void start_process(const ExecChild& c) {
  // The caller reads the pid pipe to its end: only the helper keeps it open.
  ::close(c.pid_out.get());
  check(::setsid(), "setsid");
  if (c.detach) {
    for (int target = 0; target <= 2; ++target) {
      check(::dup2(c.dev_null.get(), target), "dup2 /dev/null to fd {}", target);
    }
  } else if (c.tty) {
    // From the container's own devpts, as the init's console.
    auto pty = sys::open_pty("/dev/ptmx");
    sys::send_fd(c.console_socket, pty.master);
    sys::make_controlling_tty(pty.slave);
  } else if (c.stdin_fd.valid()) {
    check(::dup2(c.stdin_fd.get(), 0), "dup2 stdin");
  }
  exec_container_command(c.report, c.command);
}

// The helper, forked off the caller: joins the container's cgroup and namespaces and clones the
// process as the caller's child, which then sees the container's pid namespace.
[[noreturn]] void join_container(const ExecChild& c) noexcept {
  run_child(c.report, [&c] {
    reset_signals();
    // Before anything of the container can see this process or its child.
    check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
    copy_limits(c.init);
    if (!c.cgroup_dir.valid()) {
      c.driver->add_process(c.cgroup_path, ::getpid());
    }
    check(::setns(c.init_pidfd.get(), static_cast<int>(c.namespaces)),
          "setns into the namespaces of the container's pid 1");
    auto child = sys::clone_with_pidfd(CLONE_PARENT, c.cgroup_dir);
    if (!child) {
      start_process(c);
    }
    const pid_t pid = child->pid;
    write_all(c.pid_out, std::string_view(reinterpret_cast<const char*>(&pid), sizeof pid),
              "the exec'd pid");
    ::_exit(0);
  });
}

// The pid the helper reports; 0 when it ended without one (it failed before the clone).
pid_t read_pid(BorrowedFd fd) {
  const std::string data = read_all(fd, "the exec'd pid");
  pid_t pid = 0;
  if (data.size() == sizeof pid) {
    std::memcpy(&pid, data.data(), sizeof pid);
  }
  return pid;
}

// The record of a container with a live pid 1, and a pidfd on that pid 1.
std::pair<Record, UniqueFd> running_container(const ContainerStore& store, std::string_view ref) {
  Record record = inspect_container(store, ref);
  if (record.state.status == Status::restarting) {
    throw_invalid("container {} is restarting, wait until it is running", record.name);
  }
  if (record.state.paused) {
    // As Docker: the new process would join the cgroup, not the freezer, and run alone.
    throw_invalid("container {} is paused, unpause the container before exec", record.name);
  }
  const ProcessId& init = record.state.process;
  if (record.running()) {
    auto pidfd = sys::try_pidfd_open(init.pid);
    // Checked after the pidfd is open: it names the container's pid 1, not a reused pid.
    if (pidfd && process_matches(init.pid, init.start_time)) {
      return {std::move(record), std::move(*pidfd)};
    }
  }
  throw_invalid("container {} is not running", record.name);
}

}  // namespace

ExecProcess exec_in_container(const ContainerStore& store, std::string_view ref,
                              const ExecSpec& spec) {
  if (spec.args.empty() || spec.args.front().empty()) {
    throw_invalid("exec needs a command to run");
  }
  if (spec.working_dir && !spec.working_dir->starts_with('/')) {
    throw_invalid("the working directory \"{}\" is not absolute", *spec.working_dir);
  }
  const auto [record, init_pidfd] = running_container(store, ref);
  const sys::SecurityOptions security = container_security(store, record.spec);
  // As Docker: the action names the command, the attribute the exec instance.
  const std::string exec_id = random_id();
  const std::string command = fmt::format("{}", fmt::join(spec.args, " "));
  record_container_event(store, record, "exec_create: " + command, {{"execID", exec_id}});
  const bool tty = spec.tty && !spec.detach;

  ExecChild child;
  child.init = record.state.process.pid;
  child.init_pidfd = init_pidfd.borrow();
  child.namespaces = container_namespace_flags();
  const auto driver = cgroup::host_driver();
  child.driver = driver.get();
  child.cgroup_path = record.cgroup_path;
  const UniqueFd cgroup_dir = driver->open_dir(record.cgroup_path);
  child.cgroup_dir = cgroup_dir.borrow();
  child.tty = tty;
  child.detach = spec.detach;
  {
    // The container's environment as run gives it (TERM with a tty), then -e.
    Spec env_spec = record.spec;
    env_spec.tty = tty;
    merge_env(env_spec.env, spec.env);
    child.command.env = base_environment(env_spec, record.hostname);
  }
  child.command.args = spec.args;
  child.command.user = spec.user.value_or(record.spec.user);
  child.command.group_add = record.spec.group_add;  // as Docker: --group-add applies to exec too
  child.command.working_dir = spec.working_dir.value_or(record.spec.working_dir);
  child.command.create_working_dir = false;
  child.command.ulimits = record.spec.ulimits;  // as runc: exec'd processes get them too
  child.command.security = &security;

  Pipe report = make_pipe();
  Pipe pid_pipe = make_pipe();
  UniqueFd console_parent;
  UniqueFd console_child;
  if (tty) {
    int pair[2];
    check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), "socketpair");
    console_parent.reset(pair[0]);
    console_child.reset(pair[1]);
  }
  UniqueFd dev_null;
  if (spec.detach || (!tty && !spec.stdin_fd.valid())) {
    dev_null.reset(check(::open("/dev/null", O_RDWR | O_CLOEXEC), "open /dev/null"));
  }
  child.console_socket = console_child.borrow();
  child.stdin_fd = spec.stdin_fd.valid() ? spec.stdin_fd : dev_null.borrow();
  child.dev_null = dev_null.borrow();
  child.report = report.write.borrow();
  child.pid_out = pid_pipe.write.borrow();

  auto helper = sys::clone_with_pidfd(0);
  if (!helper) {
    join_container(child);
  }
  report.write.reset();
  pid_pipe.write.reset();
  console_child.reset();

  const pid_t pid = read_pid(pid_pipe.read);
  sys::pidfd_wait(helper->pidfd);
  // Our own child (CLONE_PARENT), so nobody else can reap it and its pid stays its own.
  UniqueFd pidfd;
  if (auto opened = pid > 0 ? sys::try_pidfd_open(pid) : std::nullopt) {
    pidfd = std::move(*opened);
  }
  UniqueFd console;
  if (tty && pid > 0) {
    if (auto master = sys::receive_fd(console_parent)) {
      console = std::move(*master);
    }
  }
  try {
    read_init_report(report.read, kWho);
    if (!pidfd.valid()) {
      throw Error(EPROTO, "exec: the helper process ended without starting the command");
    }
    if (tty && !console.valid()) {
      throw Error(EPROTO, "exec: no console received");
    }
  } catch (...) {
    if (pidfd.valid()) {
      sys::pidfd_signal(pidfd, SIGKILL);
      sys::pidfd_wait(pidfd);
    }
    throw;
  }
  record_container_event(store, record, "exec_start: " + command, {{"execID", exec_id}});
  return ExecProcess(pid, std::move(pidfd), std::move(console), store.root(),
                     container_event(record, "exec_die", {{"execID", exec_id}}));
}

void ExecProcess::record_exit(int exit_code) const noexcept {
  if (root_.empty()) {
    return;
  }
  try {
    Event die = die_;
    die.attributes["exitCode"] = std::to_string(exit_code);
    record_event(root_, die);
  } catch (...) {
    // Events are best effort (see record_event).
  }
}

}  // namespace gctool::container
