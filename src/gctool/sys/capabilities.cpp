#include "gctool/sys/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool::sys {
namespace {

// Indexed by capability number; names without the CAP_ prefix.
constexpr std::array<std::string_view, kLastKnownCap + 1> kCapNames = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};

std::string_view strip_cap_prefix(std::string_view name) {
  if (name.size() > 4 && iequals(name.substr(0, 4), "CAP_")) {
    name.remove_prefix(4);
  }
  return name;
}

bool is_all(std::string_view name) {
  return iequals(strip_cap_prefix(name), "ALL");
}

// The capabilities named in names; "ALL" is skipped here and handled by the caller.
CapMask mask_of(std::span<const std::string> names) {
  CapMask mask = 0;
  for (const auto& name : names) {
    if (!is_all(name)) {
      mask |= cap_bit(parse_capability(name));
    }
  }
  return mask;
}

bool contains_all(std::span<const std::string> names) {
  for (const auto& name : names) {
    if (is_all(name)) {
      return true;
    }
  }
  return false;
}

// The hex value of a "Name:\tvalue" line of /proc/self/status.
CapMask status_mask(std::string_view status, std::string_view field) {
  const auto pos = status.find(fmt::format("\n{}:", field));
  if (pos == std::string_view::npos) {
    throw_invalid("no {} in /proc/self/status", field);
  }
  auto value = status.substr(pos + field.size() + 2);
  value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
  CapMask mask = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), mask, 16);
  if (ec != std::errc{}) {
    throw_invalid("bad {} in /proc/self/status", field);
  }
  return mask;
}

}  // namespace

std::optional<int> find_capability(std::string_view name) {
  const auto bare = strip_cap_prefix(name);
  for (std::size_t cap = 0; cap < kCapNames.size(); ++cap) {
    if (iequals(bare, kCapNames[cap])) {
      return static_cast<int>(cap);
    }
  }
  return std::nullopt;
}

int parse_capability(std::string_view name) {
  if (const auto cap = find_capability(name)) {
    return *cap;
  }
  std::string shown(name);
  for (auto& c : shown) {
    c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  }
  if (shown.rfind("CAP_", 0) != 0) {
    shown = "CAP_" + shown;
  }
  throw_invalid("unknown capability \"{}\"", shown);
}

std::string capability_name(int cap) {
  if (cap >= 0 && cap <= kLastKnownCap) {
    return fmt::format("CAP_{}", kCapNames[static_cast<std::size_t>(cap)]);
  }
  return fmt::format("CAP_{}", cap);
}

std::vector<std::string> capability_names(CapMask mask) {
  std::vector<std::string> names;
  for (int cap = 0; cap < 64; ++cap) {
    if ((mask & cap_bit(cap)) != 0) {
      names.push_back(capability_name(cap));
    }
  }
  return names;
}

int kernel_last_cap() {
  const auto text = read_file("/proc/sys/kernel/cap_last_cap");
  int last = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), last);
  if (ec != std::errc{} || last < 0 || last > 63) {
    throw_invalid("bad /proc/sys/kernel/cap_last_cap: \"{}\"", text);
  }
  return last;
}

CapMask available_capabilities() {
  // Appended rather than "\n" + string: g++ 12 at -O3 reports a false -Wrestrict for that.
  std::string status = "\n";
  status += read_file("/proc/self/status");
  return status_mask(status, "CapBnd") & status_mask(status, "CapPrm");
}

ResolvedCapabilities resolve_capabilities(std::span<const std::string> cap_add,
                                          std::span<const std::string> cap_drop, bool privileged,
                                          CapMask available) {
  // Validate every name first, so that a typo is reported even when it would not matter.
  const CapMask added = mask_of(cap_add);
  const CapMask dropped = mask_of(cap_drop);
  const CapMask everything = all_capabilities(kLastKnownCap);

  CapMask wanted = 0;
  CapMask named = 0;  // what the user or the defaults asked for by name: worth a notice
  if (privileged) {
    wanted = everything;
  } else if (contains_all(cap_add)) {
    wanted = everything & ~dropped;
  } else if (contains_all(cap_drop)) {
    wanted = added;
    named = added;
  } else {
    wanted = (kDefaultCapabilities & ~dropped) | added;
    named = wanted;
  }

  ResolvedCapabilities result;
  for (int cap = 0; cap <= kLastKnownCap; ++cap) {
    if ((named & ~available & cap_bit(cap)) != 0) {
      result.notices.push_back(fmt::format(
          "capability {} is not available on this host (not in gctool's bounding set); dropped",
          capability_name(cap)));
    }
  }
  wanted &= available;
  result.sets.bounding = wanted;
  result.sets.effective = wanted;
  result.sets.permitted = wanted;
  return result;
}

int drop_bounding_set(CapMask keep, int last_cap) noexcept {
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    if ((keep & cap_bit(cap)) == 0 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return -errno;
    }
  }
  return 0;
}

int set_keep_capabilities(bool keep) noexcept {
  return ::prctl(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0) == 0 ? 0 : -errno;
}

int apply_capability_sets(const CapabilitySets& sets) noexcept {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    const int shift = 32 * i;
    data[i].effective = static_cast<std::uint32_t>(sets.effective >> shift);
    data[i].permitted = static_cast<std::uint32_t>(sets.permitted >> shift);
    data[i].inheritable = static_cast<std::uint32_t>(sets.inheritable >> shift);
  }
  if (::syscall(SYS_capset, &header, data) != 0) {
    return -errno;
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return -errno;
  }
  for (int cap = 0; cap < 64; ++cap) {
    if ((sets.ambient & cap_bit(cap)) != 0 &&
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      return -errno;
    }
  }
  return 0;
}

}  // namespace gctool::sys
