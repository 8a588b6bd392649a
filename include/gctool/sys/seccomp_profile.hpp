// Seccomp profiles: gctool's default profile and Docker's JSON profile format, both reduced to a
// plain list of rules for one container (its capabilities and the host's architecture and kernel
// already taken into account), ready to be compiled (seccomp.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/sys/capabilities.hpp"

namespace gctool::sys {

// A kernel/libseccomp action value (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(n), ...).
using SeccompAction = std::uint32_t;

// Comparison operators, numbered as libseccomp's enum scmp_compare.
enum class SeccompOp : int { ne = 1, lt, le, eq, ge, gt, masked_eq };

struct SeccompArg {
  unsigned index = 0;
  std::uint64_t value = 0;
  std::uint64_t value_two = 0;  // the datum for masked_eq: (arg & value) == value_two
  SeccompOp op = SeccompOp::eq;
};

struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action = 0;
  // All must match. When an index repeats, each condition becomes a rule of its own (libseccomp
  // cannot compare one argument twice), which is how runc reads Docker's profiles.
  std::vector<SeccompArg> args;
};

struct SeccompProfile {
  SeccompAction default_action = 0;
  std::vector<std::uint32_t> arches;  // SCMP_ARCH_* values; empty means the native one only
  std::vector<SeccompRule> rules;
};

// Docker's default profile, as our own table (seccomp_default.cpp): an allow-list whose default
// is EPERM, so every call it does not name, including any the kernel gains later, is refused.
// socket() is allowed for every family but AF_ALG and AF_VSOCK, personality() for five values,
// clone() without namespace flags; clone3 gets ENOSYS so that libc falls back to clone. The
// calls of a capability (mount, unshare, setns for CAP_SYS_ADMIN, ptrace's relatives for
// CAP_SYS_PTRACE, reboot, modules, clock setting, ...) are allowed when `caps` (the container's
// bounding set) has it, as Docker's `includes.caps`. Native x86-64 plus x86 and x32 (aarch64
// plus arm).
SeccompProfile default_seccomp_profile(CapMask caps);

// Reads a profile in Docker's JSON format (defaultAction, defaultErrnoRet, architectures,
// archMap, syscalls[].names/name/action/errnoRet/args/includes/excludes). Rules whose includes or
// excludes (caps, arches, minKernel) do not fit this container and host are left out. Errors are
// one line naming `source`: `seccomp profile "/p.json": unknown action "SCMP_ACT_FOO"`.
SeccompProfile parse_seccomp_profile(std::string_view json_text,
                                     const std::filesystem::path& source, CapMask caps);

// parse_seccomp_profile on the contents of a file.
SeccompProfile load_seccomp_profile(const std::filesystem::path& path, CapMask caps);

// A deterministic text form of the profile: equal profiles give equal text (the cache key).
std::string canonical_text(const SeccompProfile& profile);

}  // namespace gctool::sys
