// An OCI bundle's config.json (runtime-spec config.md) read into what gctool-oci acts on. Fields
// this runtime cannot honour are refused with one line naming them, never silently ignored.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gctool/cgroup/resources.hpp"
#include "gctool/sys/capabilities.hpp"

namespace gctool::oci {

inline constexpr const char* kSpecVersion = "1.1.0";

struct Rlimit {
  int resource = 0;
  rlim_t soft = 0;
  rlim_t hard = 0;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  unsigned long flags = 0;        // MS_* other than propagation and bind
  unsigned long clear_flags = 0;  // "rw", "suid"... as written: nothing to set
  std::vector<unsigned long> propagation;
  bool bind = false;
  bool recursive = false;
  std::string data;  // the options mount(2) does not know as flags
};

struct Namespace {
  int flag = 0;      // CLONE_NEW*
  std::string path;  // join this one; empty: a new one
};

struct IdMapping {
  std::uint32_t container_id = 0;
  std::uint32_t host_id = 0;
  std::uint32_t size = 0;
};

struct Device {
  std::string path;
  char type = 'c';
  std::int64_t major = 0;
  std::int64_t minor = 0;
  mode_t mode = 0666;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct Process {
  bool terminal = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::optional<mode_t> umask;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  sys::CapabilitySets caps;
  bool no_new_privileges = false;
  std::vector<Rlimit> rlimits;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
};

// The cgroup settings: the common limits through cgroup::Resources, the rest as files to write
// ("memory.swappiness" -> "10"), each with the controller it belongs to on cgroup v1.
struct CgroupSettings {
  cgroup::Resources resources;
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> files;  // ctrl,file,val
};

struct Config {
  nlohmann::json doc;
  std::filesystem::path bundle;
  std::filesystem::path rootfs;  // absolute
  bool root_readonly = false;
  std::optional<std::string> hostname;
  std::optional<std::string> domainname;
  Process process;
  std::vector<Mount> mounts;
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::vector<Device> devices;
  CgroupSettings cgroup;
  std::string cgroups_path;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::optional<nlohmann::json> seccomp;
  unsigned long rootfs_propagation = 0;  // 0: as the host's (made private)
  Hooks hooks;
  std::map<std::string, std::string> annotations;

  bool has_namespace(int flag) const;
  const Namespace* find_namespace(int flag) const;
};

// Reads <bundle>/config.json. Throws an invalid-input Error naming the field on bad input.
Config load_config(const std::filesystem::path& bundle);

// The process object of config.json (or of `exec --process`).
Process parse_process(const nlohmann::json& process);

// linux.resources as cgroup settings (also `update --resources`).
CgroupSettings parse_resources(const nlohmann::json& resources);

// The mount options of config.json's mounts[].options.
void parse_mount_options(const std::vector<std::string>& options, Mount& mount);

// "CAP_SYS_ADMIN" names to a mask; names this build or host does not know are left out, as runc
// does.
sys::CapMask parse_capability_list(const nlohmann::json& names);

// The linux.cgroupsPath as a path relative to the hierarchy roots: "/a/b" or "a/b" as is, and
// systemd's "slice:prefix:name" as "slice/prefix-name.scope"; empty: "gctool-oci/<id>".
std::string cgroup_path(const std::string& cgroups_path, const std::string& id);

}  // namespace gctool::oci
