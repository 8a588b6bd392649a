// stop and kill from any process: they signal through a pidfd checked against the recorded start
// time, and leave recording the exit to the supervisor while it lives.
#include <poll.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "gctool/cgroup/driver.hpp"
#include "gctool/cgroup/handle.hpp"
#include "gctool/container/events.hpp"
#include "gctool/container/pause.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/core/units.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::container {
namespace {

using namespace std::chrono_literals;

// How long stop waits for the owner to record an exit that has happened.
constexpr auto kRecordTimeout = 15s;

// Waits until the process behind pidfd has exited; false on timeout (negative: no limit).
bool wait_exited(BorrowedFd pidfd, std::chrono::milliseconds timeout) {
  pollfd pfd{pidfd.get(), POLLIN, 0};
  for (;;) {
    const int n = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (n >= 0) {
      return n > 0;
    }
    if (errno != EINTR) {
      throw_errno("poll pidfd");
    }
  }
}

void request_stop(const ContainerStore& store, const Record& record) {
  try {
    write_file(stop_request_path(store.dir(record.id)), "");
  } catch (const Error& e) {
    // Removed meanwhile (--rm): nothing will restart it.
    if (e.errno_value() != ENOENT) {
      throw;
    }
  }
}

// Kills every process of the container's cgroup, leaving the cgroup itself to its owner.
void kill_cgroup(const Record& record) {
  const auto driver = cgroup::host_driver();
  if (record.cgroup_path.empty() || !driver->exists(record.cgroup_path)) {
    return;
  }
  auto handle = cgroup::CgroupHandle::open(driver, record.cgroup_path);
  handle.kill_all();
  [[maybe_unused]] const auto path = handle.release();
}

// Until the exit of `run` (its pid 1 as signalled; {} for none) is in state (or the container is
// gone) and nobody will start it again: the owner, while alive, records the exit and then ends;
// without one, reconcile records it. A run started since by someone else ends the wait.
void wait_recorded(const ContainerStore& store, const std::string& id, const ProcessId& run) {
  const auto deadline = std::chrono::steady_clock::now() + kRecordTimeout;
  for (;;) {
    std::optional<Record> record;
    {
      const auto lock = store.lock();
      record = store.load(id);
      if (record) {
        record = reconcile(store, std::move(*record));
      }
    }
    if (!record || (record->state.status != Status::running && !alive(record->owner))) {
      return;
    }
    const ProcessId& now = record->state.process;
    if (run.pid != 0 && now.pid != 0 && now != run) {
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(ETIMEDOUT,
                  fmt::format("wait for container {} to be recorded as exited", short_id(id)));
    }
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

std::string stop_container(const ContainerStore& store, std::string_view ref,
                           std::optional<std::chrono::seconds> timeout) {
  Record record = inspect_container(store, ref);
  const std::chrono::seconds wait =
      timeout.value_or(std::chrono::seconds(record.spec.stop_timeout.value_or(10)));
  request_stop(store, record);
  if (record.state.status == Status::restarting) {
    // Read again after the request: a supervisor that was starting the container anew has either
    // recorded it running by now, or sees the request once it runs and stops it itself.
    const auto lock = store.lock();
    if (auto again = store.load(record.id)) {
      record = std::move(*again);
    }
  }
  if (record.running() && alive(record.state.process)) {
    auto pidfd = sys::try_pidfd_open(record.state.process.pid);
    if (pidfd && alive(record.state.process)) {
      const auto& name = record.spec.stop_signal;
      const int sig = name.empty() ? SIGTERM : parse_signal(name);
      sys::pidfd_signal(*pidfd, sig);
      record_container_event(store, record, "kill", {{"signal", std::to_string(sig)}});
      thaw_if_paused(record);
      if (!wait_exited(*pidfd, wait)) {
        kill_cgroup(record);
        sys::pidfd_signal(*pidfd, SIGKILL);
        record_container_event(store, record, "kill", {{"signal", std::to_string(SIGKILL)}});
        wait_exited(*pidfd, -1ms);
      }
    }
  }
  wait_recorded(store, record.id, record.state.process);
  record_container_event(store, record, "stop");
  return record.id;
}

std::string kill_container(const ContainerStore& store, std::string_view ref, int sig) {
  const Record record = inspect_container(store, ref);
  if (sig == SIGKILL) {
    request_stop(store, record);
  }
  signal_container(store, record.id, sig);
  record_container_event(store, record, "kill", {{"signal", std::to_string(sig)}});
  const auto& stop_signal = record.spec.stop_signal;
  if (sig == SIGKILL || sig == (stop_signal.empty() ? SIGTERM : parse_signal(stop_signal))) {
    thaw_if_paused(record);
  }
  if (sig == SIGKILL) {
    // As Docker: once kill returns the container is down and recorded so, and its owner has
    // ended, so that `start` or `inspect` right after does not find it running.
    wait_recorded(store, record.id, record.state.process);
  }
  return record.id;
}

}  // namespace gctool::container
