// The OCI lifecycle over the library: create (cgroup, namespaces, init waiting on the exec
// fifo), start, delete. The verbs in commands/ call these.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include <optional>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/sys/security.hpp"
#include "state.hpp"

namespace gctool::oci {

struct CreateOptions {
  std::string id;
  std::filesystem::path bundle = ".";
  std::filesystem::path pid_file;
  std::filesystem::path console_socket;
  int preserve_fds = 0;
  bool no_pivot = false;
};

struct Created {
  State state;
  UniqueFd pidfd;  // of the container's process, this process's child
};

// Everything up to the container's process waiting for `start`. On failure nothing remains.
Created create_container(const std::filesystem::path& root, const CreateOptions& options);

// Lets a created container's process exec its command and runs the poststart hooks.
void start_container(const std::filesystem::path& root, const State& state);

// Kills what is left of the container (with force, or when it has stopped), removes its cgroup
// and state and runs the poststop hooks.
void delete_container(const std::filesystem::path& root, const std::string& id, bool force);

// Connects to the unix socket that receives a pty master (--console-socket).
UniqueFd connect_console_socket(const std::filesystem::path& path);

// A process's security settings: its capabilities (one this process cannot grant is an error,
// one the kernel does not know is left out), no_new_privs and the seccomp profile compiled (or
// read from the root's cache of compiled filters).
sys::SecurityOptions security_of(const std::filesystem::path& root, const Process& process,
                                 const std::optional<nlohmann::json>& seccomp);

}  // namespace gctool::oci
