#include "gctool/container/namespace_modes.hpp"

#include <algorithm>
#include <array>

#include "gctool/container/network.hpp"
#include "gctool/container/spec.hpp"
#include "gctool/core/error.hpp"

namespace gctool::container {
namespace {

constexpr std::string_view kContainerPrefix = "container:";

constexpr std::array<std::string_view, 8> kIpcSysctls = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};

bool is_ipc_sysctl(std::string_view name) {
  return name.starts_with("fs.mqueue.") ||
         std::find(kIpcSysctls.begin(), kIpcSysctls.end(), name) != kIpcSysctls.end();
}

}  // namespace

void check_namespace_mode(std::string_view flag, std::string_view mode) {
  if (mode.empty() || mode == "host") {
    return;
  }
  const bool names_container =
      mode.starts_with(kContainerPrefix) && mode.size() > kContainerPrefix.size();
  if (flag == "--ipc" && (mode == "private" || mode == "shareable" || names_container)) {
    return;
  }
  if (flag == "--pid" && names_container) {
    return;
  }
  throw_invalid("invalid {} mode \"{}\": expected {}", flag, mode,
                flag == "--ipc"   ? "host, private, shareable or container:NAME"
                : flag == "--pid" ? "host or container:NAME"
                                  : "host");
}

std::string_view mode_container(std::string_view mode) noexcept {
  return mode.starts_with(kContainerPrefix) ? mode.substr(kContainerPrefix.size())
                                            : std::string_view();
}

bool shares_host_pid(const Spec& spec) noexcept {
  return spec.pid_mode == "host";
}

bool shares_host_uts(const Spec& spec) noexcept {
  return spec.uts_mode == "host";
}

bool joins_ipc(const Spec& spec) noexcept {
  return spec.ipc_mode == "host" || !mode_container(spec.ipc_mode).empty();
}

std::pair<std::string, std::string> parse_sysctl(std::string_view text) {
  const auto eq = text.find('=');
  const std::string_view name = text.substr(0, eq);
  if (eq == std::string_view::npos || name.empty() ||
      !(name.starts_with("net.") || is_ipc_sysctl(name))) {
    // Docker's wording; the name must also be one the kernel namespaces.
    throw_invalid("invalid argument \"{}\" for \"--sysctl\" flag: sysctl '{}' is not allowed", text,
                  text);
  }
  if (name.find('/') != std::string_view::npos || name.find("..") != std::string_view::npos) {
    throw_invalid("invalid argument \"{}\" for \"--sysctl\" flag: invalid sysctl name", text);
  }
  return {std::string(name), std::string(text.substr(eq + 1))};
}

void check_sysctls(const Spec& spec) {
  for (const auto& [name, value] : spec.sysctls) {
    if (name.starts_with("net.") && !own_network_namespace(spec)) {
      if (const auto donor = mode_container(spec.network_mode); !donor.empty()) {
        throw_invalid("sysctl \"{}\" not allowed: the network namespace is container {}'s", name,
                      donor);
      }
      throw_invalid("sysctl \"{}\" not allowed in host network namespace", name);
    }
    if (is_ipc_sysctl(name) && joins_ipc(spec)) {
      throw_invalid("sysctl \"{}\" is not allowed as it conflicts with the --ipc {} mode", name,
                    spec.ipc_mode);
    }
  }
}

}  // namespace gctool::container
