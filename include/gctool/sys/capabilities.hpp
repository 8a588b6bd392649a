// Linux capabilities of a container: names, Docker's default set, --cap-add/--cap-drop/--privileged
// resolution against what the host can grant (prepared in the parent), and the raw-syscall steps
// that apply them in the container's init child (no allocation, no exceptions: they return -errno).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gctool::sys {

// One bit per capability number (CAP_CHOWN is bit 0), as in /proc/PID/status.
using CapMask = std::uint64_t;

// The highest capability number gctool knows by name (CAP_CHECKPOINT_RESTORE).
inline constexpr int kLastKnownCap = 40;

constexpr CapMask cap_bit(int cap) {
  return CapMask{1} << cap;
}

// Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
inline constexpr CapMask kDefaultCapabilities = 0x00000000a80425fbULL;

// The capability number of a name: "chown", "CHOWN", "cap_chown" and "CAP_CHOWN" all work.
std::optional<int> find_capability(std::string_view name);

// As find_capability, but an unknown name throws `unknown capability "CAP_FOO"`.
int parse_capability(std::string_view name);

// "CAP_CHOWN" for 0; "CAP_<n>" for numbers without a name.
std::string capability_name(int cap);

// The names of the bits set in mask, lowest first.
std::vector<std::string> capability_names(CapMask mask);

// Every capability number from 0 to last_cap.
constexpr CapMask all_capabilities(int last_cap) {
  return last_cap >= 63 ? ~CapMask{0} : cap_bit(last_cap + 1) - 1;
}

// The running kernel's highest capability (/proc/sys/kernel/cap_last_cap).
int kernel_last_cap();

// What this process can hand to a container: its bounding set intersected with its permitted set,
// both read from /proc/self/status.
CapMask available_capabilities();

// The five sets a container process starts with.
struct CapabilitySets {
  CapMask bounding = 0;
  CapMask effective = 0;
  CapMask permitted = 0;
  CapMask inheritable = 0;
  CapMask ambient = 0;

  friend bool operator==(const CapabilitySets&, const CapabilitySets&) = default;
};

struct ResolvedCapabilities {
  CapabilitySets sets;
  // Human-readable notes for the CLI to print (e.g. a requested capability the host lacks).
  std::vector<std::string> notices;
};

// Docker's rules: privileged gives everything available (cap_add/cap_drop are only validated);
// cap_add "ALL" starts from every capability minus cap_drop; cap_drop "ALL" keeps cap_add only;
// otherwise the default set minus cap_drop plus cap_add. Names are validated (unknown names
// throw). Capabilities outside `available` are dropped, with a notice when they were named or
// come from the default set. Bounding, effective and permitted get the result; inheritable and
// ambient stay empty.
ResolvedCapabilities resolve_capabilities(std::span<const std::string> cap_add,
                                          std::span<const std::string> cap_drop, bool privileged,
                                          CapMask available);

// ---- Apply steps for the init child (async-signal-safe, return 0 or -errno). ----

// Drops from the bounding set every capability 0..last_cap not in keep (needs CAP_SETPCAP, so
// call it before switching to a non-root user).
int drop_bounding_set(CapMask keep, int last_cap) noexcept;

// PR_SET_KEEPCAPS: keep the permitted set across setuid() from root (the kernel resets it on
// execve).
int set_keep_capabilities(bool keep) noexcept;

// capset() of effective/permitted/inheritable, then clears the ambient set and raises the
// requested ambient capabilities. Call after the user switch.
int apply_capability_sets(const CapabilitySets& sets) noexcept;

}  // namespace gctool::sys
