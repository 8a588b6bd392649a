// What gctool-oci keeps about a container between commands: <root>/<id>/state.json, written
// atomically, and <root>/<id>/exec.fifo while the container waits for `start`. The status is
// never stored: it comes from the process (pid and start time) and the fifo each time. Beside
// the containers, <root>/@seccomp-cache holds the seccomp filters they compiled.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "gctool/core/fd.hpp"

namespace gctool::oci {

struct State {
  std::string id;
  pid_t pid = 0;
  std::uint64_t start_time = 0;  // of pid, so that a reused pid is never taken for it
  std::filesystem::path bundle;
  std::filesystem::path rootfs;
  std::string created;  // RFC 3339
  std::string cgroup_path;
  std::string cgroup_ancestor;   // the first of its parents that create made (removed by delete)
  std::uint64_t namespaces = 0;  // CLONE_NEW* the container has (new or joined), for exec
  std::map<std::string, std::string> annotations;
  nlohmann::json config;  // the config.json the container was created from
};

// Refuses ids that are empty, too long, or hold anything but letters, digits and "_+-.".
void validate_id(const std::string& id);

std::filesystem::path container_dir(const std::filesystem::path& root, const std::string& id);

// Compiled seccomp filters, shared by the containers of a root: compiling one is a third of a
// start's CPU time. '@' is in no id, so this is never a container's directory.
std::filesystem::path seccomp_cache_dir(const std::filesystem::path& root);

// The stored state; `container "ID" does not exist` (ENOENT) when there is none.
State load_state(const std::filesystem::path& root, const std::string& id);

void save_state(const std::filesystem::path& root, const State& state);

// created, running, paused or stopped.
std::string status_of(const std::filesystem::path& root, const State& state);

// Whether the container's process still lives (pid and start time).
bool process_alive(const State& state);

// The runtime spec's state object.
nlohmann::json state_json(const State& state, const std::string& status);

// A pidfd of the container's process, or an invalid fd when it is gone.
UniqueFd open_process(const State& state);

}  // namespace gctool::oci
