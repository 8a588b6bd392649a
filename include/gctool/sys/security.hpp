// The security settings of one container process, prepared in the parent from the CLI's flags
// (--cap-add, --cap-drop, --privileged, --security-opt) and applied in the init child with raw
// syscalls only.
//
// The init child must follow this order (runc's and crun's, for the same reasons):
//   1. mount /proc, /sys, /dev in the new root, then apply_path_restrictions(root_fd, null, ...)
//      (needs mount(2), so before seccomp; before or after pivot_root, the paths are relative
//      to root_fd);
//   2. apply_security_before_user(opts): drops the bounding set (needs CAP_SETPCAP, so while
//      still root), sets PR_SET_KEEPCAPS, and installs seccomp now if no_new_privs is off
//      (without it, installing a filter needs CAP_SYS_ADMIN, which may be dropped below);
//   3. setgroups / setgid / setuid (and chdir) as the container's user;
//   4. apply_security_after_user(opts): capset, ambient set, no_new_privs, then seccomp last so
//      the filter never blocks a setup syscall;
//   5. execve. A non-root user ends up with empty effective/permitted sets there (the kernel's
//      rule for exec without file or ambient capabilities), as under Docker.
// Each apply step returns {step, path, errno} for the init's error pipe and never allocates or
// throws. `exec` into a running container repeats steps 2-5 in its forked child (after setns), with
// options prepared from the container's stored cap_add/cap_drop/privileged/security_opts; the
// paths of step 1 are already in place. The CLI passes `<root>/cache/seccomp` as the cache.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/core/fd.hpp"
#include "gctool/sys/capabilities.hpp"
#include "gctool/sys/seccomp.hpp"

namespace gctool::sys {

// Hidden from the container: files get /dev/null bind-mounted, directories an empty read-only
// tmpfs. Paths that do not exist on this kernel are skipped.
inline constexpr std::array<std::string_view, 12> kDefaultMaskedPaths = {
    "/proc/acpi",       "/proc/asound",        "/proc/interrupts",  "/proc/kcore",
    "/proc/keys",       "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
    "/proc/timer_list", "/proc/timer_stats",   "/sys/firmware",     "/sys/devices/virtual/powercap",
};

// Bind-mounted read-only onto themselves.
inline constexpr std::array<std::string_view, 5> kDefaultReadonlyPaths = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

// What the CLI collected.
struct SecurityRequest {
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  std::vector<std::string> security_opts;  // "no-new-privileges[=bool]", "seccomp=unconfined|FILE",
                                           // "systempaths=unconfined"
  std::filesystem::path seccomp_cache_dir;  // e.g. <root>/cache/seccomp; empty: no cache
  std::optional<CapMask> available_caps;    // default: available_capabilities() (tests override)
  // Validation only (the CLI's check before it creates anything): the default seccomp profile,
  // which cannot be invalid, is left unbuilt.
  bool check_only = false;
};

// Everything the init child needs, prepared.
struct SecurityOptions {
  CapabilitySets caps;
  int last_cap = kLastKnownCap;  // the kernel's, for the bounding-set drop
  bool no_new_privs = true;
  std::optional<SeccompProgram> seccomp;  // nullopt: unconfined
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::vector<std::string> notices;  // for the CLI to print; the library never prints
};

// Validates and prepares. Errors are one line: `invalid --security-opt "foo"`, `unknown capability
// "CAP_FOO"`, `seccomp profile "/p.json": malformed JSON: ...`. --privileged means every
// capability the host has, no seccomp and no masked or read-only paths.
SecurityOptions parse_security(const SecurityRequest& request);

// The outcome of an apply step: ok, or the step that failed, the path it was working on (for
// the path steps; points into the options) and its errno.
struct SecurityStatus {
  const char* step = nullptr;
  const char* path = nullptr;
  int error = 0;

  bool ok() const noexcept { return error == 0; }
};

SecurityStatus apply_security_before_user(const SecurityOptions& options) noexcept;
SecurityStatus apply_security_after_user(const SecurityOptions& options) noexcept;

// Masks and write-protects paths inside the container's root, given as an O_PATH or directory fd
// of that root, in which procfs and sysfs are already mounted. Every path is opened relative to
// root_fd without following symlinks, checked to lie on procfs (/proc/...) or sysfs (/sys/...),
// and mounted over through its fd (open_tree/move_mount), so a path in the image can never
// redirect a mount elsewhere. Masked files get a bind of `null`, an fd (O_PATH is enough) of the
// null device the runtime made (fs::setup_dev), checked again to be character device 1:3: never a
// /dev/null looked up by path, which the container or a volume may have replaced with a link to
// a host file (CVE-2025-31133). Missing paths are skipped. On failure, step says what failed and
// path which path.
SecurityStatus apply_path_restrictions(BorrowedFd root_fd, BorrowedFd null,
                                       std::span<const std::string> masked,
                                       std::span<const std::string> readonly) noexcept;

}  // namespace gctool::sys
