#include "gctool/cgroup/devices.hpp"

#include <fmt/format.h>

#include "gctool/core/error.hpp"

namespace gctool::cgroup {

namespace {

std::string number(std::int64_t n) {
  return n == kAnyDevice ? "*" : fmt::format("{}", n);
}

DeviceRule char_device(std::int64_t major, std::int64_t minor, std::string access = "rwm") {
  return DeviceRule{
      .allow = true, .type = 'c', .major = major, .minor = minor, .access = std::move(access)};
}

}  // namespace

std::string to_string(const DeviceRule& rule) {
  if (rule.type == 'a') {
    return "a";
  }
  return fmt::format("{} {}:{} {}", rule.type, number(rule.major), number(rule.minor), rule.access);
}

std::vector<DeviceRule> default_device_rules() {
  return {
      DeviceRule{.allow = false},
      char_device(kAnyDevice, kAnyDevice, "m"),
      DeviceRule{.allow = true, .type = 'b', .access = "m"},
      char_device(1, 3),             // null
      char_device(1, 5),             // zero
      char_device(1, 7),             // full
      char_device(1, 8),             // random
      char_device(1, 9),             // urandom
      char_device(5, 0),             // tty
      char_device(5, 1),             // console
      char_device(5, 2),             // ptmx
      char_device(136, kAnyDevice),  // the pseudo-terminals in /dev/pts
  };
}

std::vector<DeviceRule> all_device_rules() {
  return {DeviceRule{}};
}

void validate(const DeviceRule& rule) {
  const bool type_ok = rule.type == 'a' || rule.type == 'c' || rule.type == 'b';
  const bool access_ok = !rule.access.empty() && rule.access.size() <= 3 &&
                         rule.access.find_first_not_of("rwm") == std::string::npos;
  if (!type_ok || !access_ok || rule.major < kAnyDevice || rule.minor < kAnyDevice) {
    throw_invalid(
        "invalid device cgroup rule \"{}\"",
        fmt::format("{} {}:{} {}", rule.type, number(rule.major), number(rule.minor), rule.access));
  }
}

}  // namespace gctool::cgroup
