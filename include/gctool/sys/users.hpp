// Resolving `-u USER[:GROUP]` against a container's own /etc/passwd and /etc/group, as Docker does:
// names are looked up in the files of the image, never in the host's databases.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace gctool::sys {

struct ExecUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> supplementary_gids;  // groups of /etc/group that list the user by name
  std::string home = "/";
};

// `spec` is "", "NAME", "UID", "NAME:GROUP", "UID:GID" (or mixed); `passwd` and `group` are the
// contents of the files (empty when missing). An empty spec means root. A numeric uid missing
// from passwd is accepted with gid 0 and home "/"; a name missing from the files is an error, as
// is a malformed id.
ExecUser resolve_exec_user(std::string_view spec, std::string_view passwd, std::string_view group);

// A group name or gid looked up in `group` (the file's contents), as `-u USER:GROUP` and
// --group-add take it: a numeric gid missing from the file is accepted, a missing name is not.
gid_t resolve_group(std::string_view name, std::string_view group);

}  // namespace gctool::sys
