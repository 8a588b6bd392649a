// Device rules on cgroup v2: there is no devices.allow file; a BPF_PROG_TYPE_CGROUP_DEVICE
// program attached to the cgroup decides every mknod and open of a device node, as runc and crun
// do it. The program is built here from the rules as raw instructions (no compiler, no libbpf).
#pragma once

#include <linux/bpf.h>

#include <span>
#include <vector>

#include "gctool/cgroup/devices.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::cgroup {

// The program for `rules`, with cgroup v1's meaning: an 'a' rule resets the default (deny or
// allow every device) and drops the rules before it; every later rule is an exception, the last
// matching one deciding. An allow rule matches when it grants all the access asked for, a deny
// rule when it refuses any of it. Without an 'a' rule every device is allowed by default.
std::vector<bpf_insn> device_filter_program(std::span<const DeviceRule> rules);

// Loads the program into the kernel (bpf(BPF_PROG_LOAD)); the error carries the verifier's last
// message.
UniqueFd load_device_filter(std::span<const bpf_insn> program);

// Enforces `rules` on the cgroup opened as `cgroup_dir`: attaches their program
// (BPF_F_ALLOW_MULTI, so a container may attach its own below) and then detaches the programs
// that were attached there before, so that applying twice never leaves two, and there is no
// moment without a filter.
void attach_device_filter(BorrowedFd cgroup_dir, std::span<const DeviceRule> rules);

}  // namespace gctool::cgroup
