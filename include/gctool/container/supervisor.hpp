// Detached containers (`run -d`, `start`): a supervisor process, forked off the caller and
// detached from it, owns the container. On its own io_uring loop it streams the container's
// stdout and stderr into the log, waits for the exit through the pidfd, records it, applies the
// restart policy, removes the container with --rm, and stops it when sent SIGTERM.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "gctool/container/log_options.hpp"
#include "gctool/container/spec.hpp"
#include "gctool/container/store.hpp"
#include "gctool/core/error.hpp"

namespace gctool::container {

// Docker's --restart.
struct RestartPolicy {
  enum class Mode { no, on_failure, always, unless_stopped };
  Mode mode = Mode::no;
  int max_retries = 0;  // on-failure only; 0: no limit
  bool operator==(const RestartPolicy&) const = default;
};

// "no", "on-failure", "on-failure:N" (N >= 0), "always", "unless-stopped". Throws an
// invalid-input Error naming the text otherwise.
RestartPolicy parse_restart_policy(std::string_view text);
// Docker's name of the mode: "no", "on-failure", "always", "unless-stopped".
std::string_view to_string(RestartPolicy::Mode mode) noexcept;

// Whether a container that exited with exit_code after restart_count restarts starts again.
// A stop asked for by the user (stop, kill, SIGTERM to the supervisor) never restarts.
bool should_restart(const RestartPolicy& policy, int exit_code, int restart_count,
                    bool stopped_by_user) noexcept;

// The pause before restart number `restart_count` (0-based): 100ms doubling, capped at `cap`.
std::chrono::milliseconds restart_delay(int restart_count,
                                        std::chrono::milliseconds cap = std::chrono::seconds(10));

// What the supervisor needs beyond the spec; kept in the container's directory so that `start`
// supervises the container again the same way.
struct SupervisorOptions {
  RestartPolicy restart;
  LogOptions log;
  int restart_count = 0;
};

// <container_dir>/supervisor.json
std::filesystem::path supervisor_options_path(const std::filesystem::path& container_dir);
void save_supervisor_options(const std::filesystem::path& container_dir,
                             const SupervisorOptions& options);
// The stored options, defaults when there are none.
SupervisorOptions load_supervisor_options(const std::filesystem::path& container_dir);

// <container_dir>/stop-requested: written by stop and kill before they signal, so that whoever
// records the exit does not restart the container; `start` removes it.
std::filesystem::path stop_request_path(const std::filesystem::path& container_dir);

// The container did not start: what() is the reason as the supervisor saw it, exit_code() the
// code `run` exits with (125, or 126/127 when the command could not be executed).
class StartError : public Error {
 public:
  StartError(int exit_code, const std::string& message)
      : Error(Error::invalid(message)), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// Docker refuses --rm with a restart policy; throws an invalid-input Error.
void check_restart_policy(const Spec& spec, const SupervisorOptions& options);

// Docker's create: the container (status created) with its supervisor options, for `start`.
// Returns its full id.
std::string create_container(const ContainerStore& store, Spec spec,
                             const SupervisorOptions& options);

// Creates the container under a new supervisor and returns its full id once the container's
// command has been exec'd. When anything fails before that, nothing is left behind and
// StartError says why. The caller must be single-threaded (it forks).
//
// With on_listening (`run -it`, which attaches as Docker's does): once the container exists and
// its attach socket listens, before the start, on_listening(id) is called in this process to
// connect (connect_attach_socket); the supervisor starts the container as soon as a client waits
// (or after a few seconds without one), so the client sees all of the container's output.
std::string run_detached(const ContainerStore& store, Spec spec, const SupervisorOptions& options,
                         const std::function<void(const std::string&)>& on_listening = {});

// Docker's start: starts the exited container ref names again, with the same filesystem and
// supervisor options, under a new supervisor. Throws StartError like run_detached, except that
// the container stays. Returns the id.
std::string start_detached(const ContainerStore& store, std::string_view ref);

// Memory per container: a supervisor forked off gctool holds gctool's libraries and heap. After
// this call, supervisors started by this process exec `helper` (gctool-supervisor) once the
// container has started; that small program streams the logs and waits for the exit, then execs
// this program's executable as `<exe> __supervise-exited ...`, whose main() must hand those
// arguments to resume_supervisor(). Without it (or when the exec fails) the supervisor does all
// of its work in process.
void use_supervisor_helper(std::filesystem::path helper);

// The first word of the exit command: main() calls resume_supervisor() when argv[1] is this.
inline constexpr std::string_view kSuperviseExitedVerb = "__supervise-exited";

// Continues a supervisor after gctool-supervisor saw the container exit: records the exit,
// applies the restart policy (starting the container again and exec'ing the helper once more)
// or cleans up. Never returns.
[[noreturn]] void resume_supervisor(int argc, const char* const* argv);

// Docker's stop: sends the container's StopSignal (default SIGTERM), waits up to `timeout` (by
// default the container's --stop-timeout, else 10 s) for pid 1 to exit, then kills every process of
// its cgroup. Returns once the exit is recorded in state (by the supervisor when it is alive,
// otherwise here) and the restart policy will not start it again. A container that is not running
// is left as it is. Returns the id.
std::string stop_container(const ContainerStore& store, std::string_view ref,
                           std::optional<std::chrono::seconds> timeout = std::nullopt);

// Docker's kill: sends sig to the container's pid 1 through a pidfd (checked by start time).
// SIGKILL counts as a stop by the user: the restart policy does not start the container again,
// and kill returns once the exit is recorded and the owner has ended (as stop does). Throws when
// the container is not running. Returns the id.
std::string kill_container(const ContainerStore& store, std::string_view ref, int sig);

}  // namespace gctool::container
