// The container runtime: create (state, directories, cgroup), start (clone3 into new namespaces,
// place the child, release it, wait for its exec), wait, kill and delete. A foreground `run`
// drives all steps itself; a supervisor process can drive them the same way.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "gctool/cgroup/handle.hpp"
#include "gctool/container/spec.hpp"
#include "gctool/container/state.hpp"
#include "gctool/container/store.hpp"
#include "gctool/core/atomic_file.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/net/port_proxy.hpp"
#include "gctool/sys/security.hpp"

namespace gctool::container {

// The namespaces every container gets (and exec joins): mount, pid, uts, ipc, net, and cgroup
// when the host has cgroup namespaces.
std::uint64_t container_namespace_flags();

// --init: the static gctool-init, found next to gctool by the CLI. Without it --init is refused.
void use_init_helper(std::filesystem::path helper);

// The container's security settings (capabilities, no_new_privs, seccomp, masked paths) prepared
// from the flags kept in its spec, with the store's seccomp cache. Throws on a bad flag.
sys::SecurityOptions container_security(const ContainerStore& store, const Spec& spec);

// One container owned by this process from create to exit. Destroying it before finish()
// kills its process and releases everything (cgroup, directory, state), so an error on any path
// leaves nothing behind; once it has started, its directory and record stay (exited).
class Container {
 public:
  // Validates the spec (resources, binds, name, network) before creating anything, then writes
  // the record (status created) under the store lock, prepares the directory (upper, work,
  // merged, hostname, hosts, resolv.conf) and creates the cgroup with its limits.
  static Container create(const ContainerStore& store, Spec spec, Durability durability);

  // Takes over the exited (or created) container ref names to start it again with the same
  // filesystem (`gctool start`): this process becomes its owner and its cgroup is made again.
  // Throws an invalid-input Error when it is running or owned by a live process.
  static Container restart(const ContainerStore& store, std::string_view ref,
                           Durability durability);

  // Takes over the container id again after this process exec'd itself (the owner's pid and
  // start time survive exec), its pid 1 already reaped: for the supervisor that records the exit
  // gctool-supervisor saw. Throws an invalid-input Error when this process is not its owner.
  static Container adopt(const ContainerStore& store, std::string_view id);

  Container(Container&&) noexcept;
  Container& operator=(Container&&) = delete;
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  ~Container();

  const Record& record() const noexcept { return record_; }
  const std::string& id() const noexcept { return record_.id; }

  // Spawns the init, places it in its cgroup and network, releases it and returns once the
  // command has been exec'd (status running). Without a tty the container gets stdin_fd as fd 0
  // (/dev/null when invalid) and this process's fds 1 and 2. Throws InitError when the init
  // failed (see InitError::exit_code).
  void start(BorrowedFd stdin_fd = BorrowedFd());

  // Docker's create: leaves the container, which has not started, as it is (status created, owned
  // by nobody) for a later start. This object no longer owns it.
  void keep_created();

  // Counts one more restart by the restart policy; saved by the next start().
  void count_restart() noexcept { ++record_.restart_count; }

  BorrowedFd pidfd() const noexcept { return pidfd_.borrow(); }
  pid_t pid() const noexcept { return record_.state.process.pid; }
  // With a tty: the pty master (valid after start).
  BorrowedFd console() const noexcept { return console_.borrow(); }

  // The listeners of its [::1] port proxy, opened by start() (see net/port_proxy.hpp), for the
  // process that waits for the container to serve; they are the caller's from now on.
  std::vector<net::ProxyListener> take_port_proxies() noexcept {
    return std::exchange(proxies_, {});
  }

  // Sends sig to the container's pid 1; false when it has exited.
  bool kill(int sig) const;

  // Blocks until pid 1 exits and records it (see record_exit).
  int wait();
  // Records the exit of pid 1 (as reaped from the pidfd): status exited (restarting when the
  // restart policy will start it again), exit code, OOMKilled, FinishedAt. Returns Docker's exit
  // code (the status, 128+N for signal N). A record that cannot be written (a full disk) does
  // not make the exit fail: see save_error().
  int record_exit(const siginfo_t& info, bool restarting = false);
  // Why the last write of the record after the start failed; empty when it succeeded. The
  // stored record is then behind, and the next command reconciles it.
  const std::string& save_error() const noexcept { return save_error_; }
  // The restart announced by record_exit will not happen (stopped, or it failed with `error`):
  // status exited. Nothing when the container is not restarting.
  void cancel_restart(const std::string& error = "");

  // After the exit: kills what is left in the cgroup and removes it; with AutoRemove also the
  // directory and state, otherwise the exited container stays for ps/inspect/rm. Destroying a
  // started container without finish() kills it and ends the same way.
  void finish();

 private:
  Container(const ContainerStore& store, Record record, Durability durability,
            std::optional<cgroup::CgroupHandle> cgroup);
  void save();
  bool try_save() noexcept;
  void destroy() noexcept;
  void make_cgroup(const std::shared_ptr<const cgroup::CgroupDriver>& driver);

  const ContainerStore* store_;
  Record record_;
  Durability durability_;
  std::optional<cgroup::CgroupHandle> cgroup_;
  UniqueFd pidfd_;
  UniqueFd console_;
  std::vector<net::ProxyListener> proxies_;
  bool reaped_ = false;
  bool started_ = false;  // start() succeeded: from now on its files outlive errors
  bool finished_ = false;
  std::string save_error_;
};

// Brings a stored record in line with reality, with the store lock held: a container whose pid 1
// is gone (pid and start time) and whose owner is gone too becomes exited and its cgroup is
// released; an AutoRemove container is then removed (nullopt). Records owned by a live process
// are left to it. Saving what it found is best effort (a full disk): the next read does it again.
//
// The commands below that read a record (list, inspect, rm, and so start, stop, kill, exec) also
// wait, up to a few seconds with the lock released, while a live owner is about to change it
// (pid 1 has exited but the exit is not recorded yet, or the owner is starting or finishing the
// container), so that what they see and act on agrees with the kernel.
std::optional<Record> reconcile(const ContainerStore& store, Record record);

// Every container after reconciling, oldest first; with Detail::listing only the fields
// record_for_listing reads (for showing them: `ps`).
std::vector<Record> list_containers(const ContainerStore& store,
                                    ContainerStore::Detail detail = ContainerStore::Detail::whole);

// The reconciled record of the container ref names (id, name or unique prefix).
Record inspect_container(const ContainerStore& store, std::string_view ref);

// Docker's rm: refuses a running or restarting container (one whose owner lives) unless force,
// which kills every process of its cgroup (and its owner unless the container runs) and waits
// for them; then releases the cgroup and removes the directory. A broken record (see
// ContainerStore) is removed with force only. With volumes (rm -v) or AutoRemove, its anonymous
// volumes go too. Returns the id.
std::string remove_container(const ContainerStore& store, std::string_view ref, bool force,
                             bool volumes = false);

// Sends sig to the running container's pid 1 (checked by start time). Throws when not running.
void signal_container(const ContainerStore& store, std::string_view ref, int sig);

// Blocks until the container has exited and returns its exit code; works from any process.
int wait_container(const ContainerStore& store, std::string_view ref);

}  // namespace gctool::container
