// Columns of a container as Docker's listings show them (ps, system df -v): how long ago,
// STATUS and COMMAND.
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "gctool/container/health.hpp"
#include "gctool/container/state.hpp"
#include "gctool/core/time.hpp"
#include "gctool/core/units.hpp"

namespace gctool::tool {

inline std::string ago(const std::string& when, std::chrono::system_clock::time_point now) {
  if (when.empty()) {
    return "";
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - parse_rfc3339(when));
  return format_duration_ago(std::max(elapsed, std::chrono::seconds(0)));
}

// The container's health status ("starting", "healthy", "unhealthy"), "none" without checks.
inline std::string health_of(const std::filesystem::path& root, const container::Record& r) {
  if (!container::health_enabled(r.spec.healthcheck)) {
    return "none";
  }
  return container::read_health_status(root / "containers" / r.id);
}

inline std::string status_text(const std::filesystem::path& root, const container::Record& r,
                               std::chrono::system_clock::time_point now) {
  switch (r.state.status) {
    case container::Status::running: {
      std::string health;
      if (!r.state.paused && container::health_enabled(r.spec.healthcheck)) {
        const auto status = health_of(root, r);
        health = status == "starting" ? " (health: starting)" : " (" + status + ")";
      }
      return "Up " + ago(r.state.started_at, now) + (r.state.paused ? " (Paused)" : "") + health;
    }
    case container::Status::restarting:
      return fmt::format("Restarting ({}) {} ago", r.state.exit_code,
                         ago(r.state.finished_at, now));
    case container::Status::exited:
      return fmt::format("Exited ({}) {} ago", r.state.exit_code, ago(r.state.finished_at, now));
    case container::Status::created:
      return "Created";
  }
  return "";
}

// Docker's COMMAND column: the command line cut to 20 characters with "…", then quoted.
inline std::string command_text(const container::Record& r, bool no_trunc) {
  // An argument with spaces or quotes is shown single-quoted, as Docker shows `sh -c 'exit 3'`.
  std::string command;
  for (const auto& arg : r.args()) {
    if (!command.empty()) {
      command += ' ';
    }
    if (arg.find_first_of(" \t'\"$") == std::string::npos && !arg.empty()) {
      command += arg;
    } else {
      command += '\'';
      for (const char c : arg) {
        command += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      command += '\'';
    }
  }
  if (!no_trunc && command.size() > 20) {
    command = command.substr(0, 19) + "…";
  }
  std::string quoted = "\"";
  for (const char c : command) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace gctool::tool
