#include "gctool/sys/users.hpp"

#include <charconv>
#include <optional>

#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"

namespace gctool::sys {
namespace {

std::optional<std::uint32_t> parse_id(std::string_view text) {
  std::uint32_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

// Calls f(fields) for every well-formed line of a colon-separated database with >= min fields.
template <typename F>
void for_each_entry(std::string_view db, std::size_t min_fields, F f) {
  for (const auto line : split(db, '\n')) {
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const auto fields = split(line, ':');
    if (fields.size() >= min_fields) {
      f(fields);
    }
  }
}

}  // namespace

gid_t resolve_group(std::string_view name, std::string_view group) {
  const auto numeric_gid = parse_id(name);
  std::optional<gid_t> found;
  // group: name:password:gid:members
  for_each_entry(group, 3, [&](const std::vector<std::string_view>& f) {
    const auto gid = parse_id(f[2]);
    if (!found && gid && (f[0] == name || (numeric_gid && *numeric_gid == *gid))) {
      found = *gid;
    }
  });
  if (!found) {
    if (!numeric_gid) {
      throw_invalid("unable to find group {}: no matching entries in group file", name);
    }
    found = *numeric_gid;
  }
  return *found;
}

ExecUser resolve_exec_user(std::string_view spec, std::string_view passwd, std::string_view group) {
  ExecUser user;
  if (spec.empty()) {
    spec = "0";
  }
  const auto colon = spec.find(':');
  const std::string_view user_part = spec.substr(0, colon);
  const std::optional<std::string_view> group_part =
      colon == std::string_view::npos ? std::nullopt
                                      : std::optional<std::string_view>(spec.substr(colon + 1));
  const auto numeric_uid = parse_id(user_part);
  std::string user_name;
  bool found = false;
  // passwd: name:password:uid:gid:gecos:home:shell
  for_each_entry(passwd, 7, [&](const std::vector<std::string_view>& f) {
    if (found) {
      return;
    }
    const auto uid = parse_id(f[2]);
    const auto gid = parse_id(f[3]);
    if (!uid || !gid) {
      return;
    }
    if (f[0] == user_part || (numeric_uid && *numeric_uid == *uid)) {
      found = true;
      user.uid = *uid;
      user.gid = *gid;
      user.home = f[5].empty() ? "/" : std::string(f[5]);
      user_name = f[0];
    }
  });
  if (!found) {
    if (!numeric_uid) {
      throw_invalid("unable to find user {}: no matching entries in passwd file", user_part);
    }
    user.uid = *numeric_uid;
  }
  if (group_part) {
    user.gid = resolve_group(*group_part, group);
  }
  if (!user_name.empty()) {
    for_each_entry(group, 4, [&](const std::vector<std::string_view>& f) {
      const auto gid = parse_id(f[2]);
      if (!gid || *gid == user.gid) {
        return;
      }
      for (const auto member : split(f[3], ',')) {
        if (member == user_name) {
          user.supplementary_gids.push_back(*gid);
          return;
        }
      }
    });
  }
  return user;
}

}  // namespace gctool::sys
