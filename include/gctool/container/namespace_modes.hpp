// Docker's --pid, --uts, --ipc and --sysctl: which namespaces a container shares with the host or
// another container, and the kernel settings it may change in its own.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace gctool::container {

struct Spec;

// --pid and --uts take "host" (empty: the container's own); --pid also "container:NAME"; --ipc
// also takes "private", "shareable" (own namespaces; only a shareable one may be joined) and
// "container:NAME". Throws
// an invalid-input Error naming the flag for anything else.
void check_namespace_mode(std::string_view flag, std::string_view mode);

// The container a "container:NAME" mode (--ipc, --pid, --network) names; empty for the other modes.
std::string_view mode_container(std::string_view mode) noexcept;

bool shares_host_pid(const Spec& spec) noexcept;
bool shares_host_uts(const Spec& spec) noexcept;
// The host's or another container's IPC namespace: none of its own.
bool joins_ipc(const Spec& spec) noexcept;

// --sysctl NAME=VALUE, as Docker: only namespaced settings, which are net.*, fs.mqueue.* and the
// kernel's IPC limits (kernel.msg*, kernel.sem, kernel.shm*). Throws for others.
std::pair<std::string, std::string> parse_sysctl(std::string_view text);

// Refuses sysctls that would change the host's settings: net.* without a network namespace of
// the container's own, IPC ones without its own IPC namespace (as runc).
void check_sysctls(const Spec& spec);

}  // namespace gctool::container
