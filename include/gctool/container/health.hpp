// Health checks (--health-cmd and the image's HEALTHCHECK), as Docker runs them: the container's
// supervisor runs the check every interval as an exec into the container, bounded by a timeout;
// a check that exits 0 makes the container healthy, `retries` failures in a row unhealthy, and
// failures within the start period do not count. The state is Docker's State.Health, kept in
// <container_dir>/health.json by the supervisor while the container runs.
#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/core/event_journal.hpp"
#include "gctool/image/config.hpp"

namespace gctool::container {

// Docker's defaults for what a Healthcheck leaves at 0.
inline constexpr std::chrono::seconds kDefaultHealthInterval{30};
inline constexpr std::chrono::seconds kDefaultHealthTimeout{30};
inline constexpr std::chrono::seconds kDefaultHealthStartInterval{5};
inline constexpr int kDefaultHealthRetries = 3;
// As Docker: the results kept, and the bytes of output kept of each.
inline constexpr std::size_t kHealthLogEntries = 5;
inline constexpr std::size_t kHealthOutputLimit = 4096;

// Whether the container has checks to run: a Test that is neither empty nor NONE.
bool health_enabled(const std::optional<image::Healthcheck>& check) noexcept;

// The argv of a check's process: CMD's words, or CMD-SHELL's command under /bin/sh -c.
std::vector<std::string> health_command(const image::Healthcheck& check);

// The flags `run` took: --health-cmd, -interval, -timeout, -start-period, -start-interval,
// -retries and
// --no-healthcheck, over the image's HEALTHCHECK as Docker merges them. Durations are Go's
// ("30s", "1m30s"). Throws an invalid-input Error in Docker's words for a bad value.
struct HealthFlags {
  std::optional<std::string> cmd;
  std::optional<std::string> interval;
  std::optional<std::string> timeout;
  std::optional<std::string> start_period;
  std::optional<std::string> start_interval;
  std::optional<int> retries;
  bool none = false;
};
void check_health_flags(const HealthFlags& flags);
std::optional<image::Healthcheck> merge_healthcheck(const std::optional<image::Healthcheck>& image,
                                                    const HealthFlags& flags);

// What the supervisor needs to run checks: the effective settings and the check's command.
struct HealthSettings {
  std::chrono::nanoseconds interval = kDefaultHealthInterval;
  std::chrono::nanoseconds timeout = kDefaultHealthTimeout;
  std::chrono::nanoseconds start_period{0};
  // As Docker 25+: the interval while the container is starting within its start period.
  std::chrono::nanoseconds start_interval = kDefaultHealthStartInterval;
  int retries = kDefaultHealthRetries;
  std::vector<std::string> command;  // the process that runs one check; empty: no checks
  std::filesystem::path state_file;  // health.json
  // Where a change of status is recorded as Docker's "health_status: STATUS" event of `actor`
  // (the container's id and attributes); empty: not recorded.
  std::filesystem::path events_root;
  Event actor;
};
HealthSettings health_settings(const image::Healthcheck& check);

// <container_dir>/health.json
std::filesystem::path health_state_path(const std::filesystem::path& container_dir);

// One check's result, as Docker's State.Health.Log entries.
struct HealthResult {
  std::string start;  // RFC 3339 nano
  std::string end;
  int exit_code = 0;  // -1: it did not finish within the timeout
  std::string output;
};

// Docker's State.Health: starting until the first success or `retries` failures.
class HealthState {
 public:
  // started: when the container started, for the start period.
  HealthState(const HealthSettings& settings, std::chrono::steady_clock::time_point started);

  void record(HealthResult result, std::chrono::steady_clock::time_point now);
  // The wait before the next check: the start interval while starting within the start period.
  std::chrono::nanoseconds next_interval(std::chrono::steady_clock::time_point now) const;
  const std::string& status() const noexcept { return status_; }
  int failing_streak() const noexcept { return failing_streak_; }
  // The state as Docker's JSON: {"Status": ..., "FailingStreak": ..., "Log": [...]}.
  std::string to_json() const;
  // Written atomically (a temporary file renamed over it); throws Error on failure.
  void save(const std::filesystem::path& path) const;

 private:
  const HealthSettings& settings_;
  std::chrono::steady_clock::time_point started_;
  std::string status_ = "starting";
  int failing_streak_ = 0;
  std::deque<HealthResult> log_;
};

// The status in health.json ("starting", "healthy", "unhealthy"); "starting" when it cannot be
// read (the supervisor has not written it yet).
std::string read_health_status(const std::filesystem::path& container_dir);

// The hidden verb of the process that runs one check: `<gctool> __health-exec ROOT ID` execs the
// check's command in the running container (see container/exec.hpp) with this process's stdout
// and stderr, and exits with its exit code; SIGTERM (the supervisor's timeout) kills the command.
inline constexpr std::string_view kHealthExecVerb = "__health-exec";
// main() calls it when argv[1] is kHealthExecVerb. Never returns.
[[noreturn]] void run_health_exec(int argc, const char* const* argv);

// Docker's `Health check exceeded timeout (30s)` text of a timeout, in Go's duration notation.
std::string health_timeout_message(std::chrono::nanoseconds timeout);

}  // namespace gctool::container
