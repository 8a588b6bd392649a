// A seccomp filter compiled once in the parent (libseccomp, exported as classic BPF) and installed
// in the container's init child with one raw seccomp() call. Compiled programs are cached on disk
// by the profile, so a container start costs one read.
#pragma once

#include <linux/filter.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gctool/sys/seccomp_profile.hpp"

namespace gctool::sys {

struct SeccompProgram {
  std::vector<sock_filter> filter;

  // The kernel's view of filter; valid while this object lives and is not modified.
  sock_fprog fprog() const noexcept {
    return sock_fprog{static_cast<unsigned short>(filter.size()),
                      const_cast<sock_filter*>(filter.data())};
  }
};

// Builds the filter with libseccomp and exports its BPF. A name this libseccomp does not know is
// resolved on the native architecture from a table of calls newer than Debian's libseccomp (so
// that mseal or statmount in an allow-list are allowed on x86-64), and skipped otherwise; rules
// with the default action are redundant and skipped as well.
SeccompProgram compile_seccomp(const SeccompProfile& profile);

// The name of the cache file for a profile: a hash of its key (the canonical text, the
// libseccomp version, the native architecture and the cache format), e.g. "3f2a...9c.bpf".
std::string seccomp_cache_name(const SeccompProfile& profile);

// compile_seccomp through a cache directory (created 0700 when missing): a hit is one read of
// `<cache_dir>/<seccomp_cache_name>`, used only when the file holds the whole key (a crafted
// profile whose name collides gets a miss) and the directory and file are the effective user's
// own and writable by no one else; a miss compiles and writes the file atomically. A corrupt
// cache file is replaced; a cache directory that is not the user's own is neither read nor
// written (the profile is compiled).
SeccompProgram load_or_compile_seccomp(const SeccompProfile& profile,
                                       const std::filesystem::path& cache_dir);

// For the init child: installs the filter with seccomp(SECCOMP_SET_MODE_FILTER). Needs
// no_new_privs or CAP_SYS_ADMIN. Returns 0 or -errno; never allocates.
int apply_seccomp(const SeccompProgram& program) noexcept;

}  // namespace gctool::sys
