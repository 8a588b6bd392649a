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

// Creates (or reuses) the cgroup at path with the settings; the handle removes it unless
// released.
cgroup::CgroupHandle create_cgroup(const std::string& path, const CgroupSettings& settings);

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
