// Which device nodes a container may create (mknod) and open: the rules the devices cgroup
// enforces, in the order cgroup v1's devices.allow/devices.deny take them, and Docker's defaults.
// On v2 the same rules become a BPF program (gctool/cgroup/device_filter.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gctool::cgroup {

// A major or minor number that matches every device ("*").
inline constexpr std::int64_t kAnyDevice = -1;

struct DeviceRule {
  bool allow = true;
  char type = 'a';  // 'a' every device (major, minor ignored), 'c' character, 'b' block
  std::int64_t major = kAnyDevice;
  std::int64_t minor = kAnyDevice;
  std::string access = "rwm";  // r read, w write, m mknod

  bool operator==(const DeviceRule&) const = default;
};

// The rule as devices.allow and devices.deny take it: "c 1:3 rwm", "b *:* m", "a".
std::string to_string(const DeviceRule& rule);

// Docker's defaults (moby's DefaultLinuxSpec and runc's always-allowed set): deny every device,
// then allow mknod of any node and read/write/mknod of null, zero, full, random, urandom, tty,
// console, ptmx and the pseudo-terminals. tun (10:200), which runc adds for compatibility, is
// not in it: `--device /dev/net/tun` gives it.
std::vector<DeviceRule> default_device_rules();

// --privileged: every device.
std::vector<DeviceRule> all_device_rules();

// Throws Error::invalid naming the rule when its type is not a, c or b, its access is empty or
// holds other letters than r, w, m, or a number is below -1.
void validate(const DeviceRule& rule);

}  // namespace gctool::cgroup
