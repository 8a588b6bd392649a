// The container's cgroup: the library's CgroupHandle for the common limits, plus what the OCI
// spec has beyond them (the rest of linux.resources as cgroupfs files, the freezer for
// pause/resume) on the v1 controllers the library's driver does not use.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "config.hpp"
#include "gctool/cgroup/handle.hpp"

namespace gctool::oci {

// Creates (or reuses) the cgroup at path with the settings; on failure nothing of it remains.
// The handle removes it unless released; remove_extra_cgroups then removes the (empty) v1
// directories of the controllers beyond the library's driver.
cgroup::CgroupHandle create_cgroup(const std::string& path, const CgroupSettings& settings);
void remove_extra_cgroups(const std::string& path) noexcept;

// The shallowest ancestor of the cgroup path that exists in no hierarchy yet ("a" for "a/b/c"
// when "a" is missing), which creating the cgroup makes; empty when only the leaf is new.
std::string new_cgroup_ancestor(const std::string& path);

// Removes the cgroup's (empty) ancestors up to that one, in every hierarchy.
void remove_new_cgroup_ancestors(const std::string& path, const std::string& ancestor) noexcept;

// Writes the settings into the existing cgroup (`update`).
void update_cgroup(const std::string& path, const CgroupSettings& settings);

// Moves pid into the cgroup in every hierarchy.
void join_cgroup(const std::string& path, pid_t pid);

// The processes in the cgroup.
std::vector<pid_t> cgroup_pids(const std::string& path);

// Freezes or thaws the cgroup, and whether it is frozen.
void freeze_cgroup(const std::string& path, bool frozen);
bool cgroup_frozen(const std::string& path);

// Kills what is left in it and removes it in every hierarchy; nothing when it is gone.
void remove_cgroup(const std::string& path);

}  // namespace gctool::oci
