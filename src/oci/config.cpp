#include "config.hpp"

#include <sched.h>
#include <sys/mount.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/cgroup/devices.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/json_file.hpp"

namespace gctool::oci {
namespace {

using json = nlohmann::json;

template <typename T>
T get_or(const json& doc, const char* key, T fallback) {
  if (!doc.is_object() || !doc.contains(key) || doc.at(key).is_null()) {
    return fallback;
  }
  try {
    return doc.at(key).get<T>();
  } catch (const json::exception&) {
    throw_invalid("config.json: \"{}\" has the wrong type", key);
  }
}

const json& member(const json& doc, const char* key) {
  static const json null;
  if (!doc.is_object() || !doc.contains(key)) {
    return null;
  }
  return doc.at(key);
}

std::vector<std::string> strings(const json& doc, const char* key) {
  return get_or<std::vector<std::string>>(doc, key, {});
}

int rlimit_resource(const std::string& name) {
  static const std::map<std::string, int> names = {
      {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME}};
  const auto it = names.find(name);
  if (it == names.end()) {
    throw_invalid("config.json: unknown rlimit type \"{}\"", name);
  }
  return it->second;
}

int namespace_flag(const std::string& type) {
  static const std::map<std::string, int> types = {
      {"pid", CLONE_NEWPID},      {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
      {"ipc", CLONE_NEWIPC},      {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
      {"cgroup", CLONE_NEWCGROUP}};
  const auto it = types.find(type);
  if (it == types.end()) {
    throw_invalid("config.json: namespace type \"{}\" is not supported", type);
  }
  return it->second;
}

std::vector<IdMapping> id_mappings(const json& list) {
  std::vector<IdMapping> out;
  for (const auto& m : list.is_array() ? list : json::array()) {
    out.push_back({get_or<std::uint32_t>(m, "containerID", 0),
                   get_or<std::uint32_t>(m, "hostID", 0), get_or<std::uint32_t>(m, "size", 0)});
  }
  return out;
}

Hook parse_hook(const json& doc) {
  Hook hook;
  hook.path = get_or<std::string>(doc, "path", "");
  if (hook.path.empty() || hook.path.front() != '/') {
    throw_invalid("config.json: hook path \"{}\" is not absolute", hook.path);
  }
  hook.args = strings(doc, "args");
  hook.env = strings(doc, "env");
  if (doc.contains("timeout") && !doc.at("timeout").is_null()) {
    hook.timeout = doc.at("timeout").get<int>();
    if (*hook.timeout <= 0) {
      throw_invalid("config.json: hook timeout must be positive");
    }
  }
  return hook;
}

std::vector<Hook> hook_list(const json& hooks, const char* key) {
  std::vector<Hook> out;
  for (const auto& h : member(hooks, key).is_array() ? member(hooks, key) : json::array()) {
    out.push_back(parse_hook(h));
  }
  return out;
}

unsigned long propagation_flag(const std::string& name) {
  static const std::map<std::string, unsigned long> flags = {
      {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
      {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};
  const auto it = flags.find(name);
  return it == flags.end() ? 0 : it->second;
}

cgroup::DeviceRule device_rule(const json& doc) {
  cgroup::DeviceRule rule;
  rule.allow = get_or<bool>(doc, "allow", false);
  rule.type = get_or<std::string>(doc, "type", "a").front();
  rule.major = get_or<std::int64_t>(doc, "major", cgroup::kAnyDevice);
  rule.minor = get_or<std::int64_t>(doc, "minor", cgroup::kAnyDevice);
  rule.access = get_or<std::string>(doc, "access", "rwm");
  if (rule.access.empty()) {
    rule.access = "rwm";
  }
  cgroup::validate(rule);
  return rule;
}

}  // namespace

bool Config::has_namespace(int flag) const {
  return find_namespace(flag) != nullptr;
}

const Namespace* Config::find_namespace(int flag) const {
  for (const auto& ns : namespaces) {
    if (ns.flag == flag) {
      return &ns;
    }
  }
  return nullptr;
}

sys::CapMask parse_capability_list(const json& names) {
  sys::CapMask mask = 0;
  for (const auto& name : names.is_array() ? names : json::array()) {
    if (const auto cap = sys::find_capability(name.get<std::string>())) {
      mask |= sys::cap_bit(*cap);
    }
  }
  return mask;
}

Process parse_process(const json& doc) {
  if (!doc.is_object()) {
    throw_invalid("config.json: \"process\" is missing");
  }
  Process p;
  p.terminal = get_or<bool>(doc, "terminal", false);
  const auto& user = member(doc, "user");
  p.uid = get_or<uid_t>(user, "uid", 0);
  p.gid = get_or<gid_t>(user, "gid", 0);
  p.additional_gids = get_or<std::vector<gid_t>>(user, "additionalGids", {});
  if (member(user, "umask").is_number()) {
    p.umask = user.at("umask").get<mode_t>();
  }
  if (!get_or<std::string>(user, "username", "").empty()) {
    throw_invalid("config.json: process.user.username is for Windows");
  }
  p.args = strings(doc, "args");
  if (p.args.empty()) {
    throw_invalid("config.json: process.args must not be empty");
  }
  p.env = strings(doc, "env");
  p.cwd = get_or<std::string>(doc, "cwd", "/");
  if (p.cwd.empty() || p.cwd.front() != '/') {
    throw_invalid("config.json: process.cwd \"{}\" is not absolute", p.cwd);
  }
  const auto& caps = member(doc, "capabilities");
  p.caps.bounding = parse_capability_list(member(caps, "bounding"));
  p.caps.effective = parse_capability_list(member(caps, "effective"));
  p.caps.permitted = parse_capability_list(member(caps, "permitted"));
  p.caps.inheritable = parse_capability_list(member(caps, "inheritable"));
  p.caps.ambient = parse_capability_list(member(caps, "ambient"));
  p.no_new_privileges = get_or<bool>(doc, "noNewPrivileges", false);
  for (const auto& r : member(doc, "rlimits").is_array() ? doc.at("rlimits") : json::array()) {
    p.rlimits.push_back({rlimit_resource(get_or<std::string>(r, "type", "")),
                         get_or<rlim_t>(r, "soft", 0), get_or<rlim_t>(r, "hard", 0)});
  }
  if (member(doc, "oomScoreAdj").is_number()) {
    p.oom_score_adj = doc.at("oomScoreAdj").get<int>();
  }
  p.apparmor_profile = get_or<std::string>(doc, "apparmorProfile", "");
  p.selinux_label = get_or<std::string>(doc, "selinuxLabel", "");
  if (member(doc, "ioPriority").is_object()) {
    throw_invalid("config.json: process.ioPriority is not supported by gctool-oci");
  }
  if (member(doc, "scheduler").is_object()) {
    throw_invalid("config.json: process.scheduler is not supported by gctool-oci");
  }
  return p;
}

void parse_mount_options(const std::vector<std::string>& options, Mount& m) {
  static const std::map<std::string, std::pair<bool, unsigned long>> flags = {
      {"async", {false, MS_SYNCHRONOUS}},
      {"atime", {false, MS_NOATIME}},
      {"defaults", {true, 0}},
      {"dev", {false, MS_NODEV}},
      {"diratime", {false, MS_NODIRATIME}},
      {"dirsync", {true, MS_DIRSYNC}},
      {"exec", {false, MS_NOEXEC}},
      {"mand", {true, MS_MANDLOCK}},
      {"noatime", {true, MS_NOATIME}},
      {"nodev", {true, MS_NODEV}},
      {"nodiratime", {true, MS_NODIRATIME}},
      {"noexec", {true, MS_NOEXEC}},
      {"nosuid", {true, MS_NOSUID}},
      {"relatime", {true, MS_RELATIME}},
      {"norelatime", {false, MS_RELATIME}},
      {"remount", {true, MS_REMOUNT}},
      {"ro", {true, MS_RDONLY}},
      {"rw", {false, MS_RDONLY}},
      {"strictatime", {true, MS_STRICTATIME}},
      {"nostrictatime", {false, MS_STRICTATIME}},
      {"suid", {false, MS_NOSUID}},
      {"sync", {true, MS_SYNCHRONOUS}},
      {"lazytime", {true, MS_LAZYTIME}},
      {"nolazytime", {false, MS_LAZYTIME}},
      {"silent", {true, MS_SILENT}},
      {"loud", {false, MS_SILENT}}};
  std::vector<std::string> data;
  for (const auto& option : options) {
    if (option == "bind" || option == "rbind") {
      m.bind = true;
      m.recursive = m.recursive || option == "rbind";
    } else if (option == "idmap" || option == "ridmap") {
      throw_invalid("mount \"{}\": idmapped mounts are not supported by gctool-oci", m.destination);
    } else if (const auto p = propagation_flag(option); p != 0) {
      m.propagation.push_back(p);
    } else if (const auto it = flags.find(option); it != flags.end()) {
      if (it->second.first) {
        m.flags |= it->second.second;
      } else {
        m.flags &= ~it->second.second;
        m.clear_flags |= it->second.second;
      }
    } else if (option == "tmpcopyup" || option.starts_with("x-")) {
      // Hints for other runtimes and for mount(8): nothing to pass to the kernel.
    } else {
      data.push_back(option);
    }
  }
  m.data.clear();
  for (const auto& d : data) {
    m.data += (m.data.empty() ? "" : ",") + d;
  }
}

CgroupSettings parse_resources(const json& r) {
  CgroupSettings s;
  if (!r.is_object()) {
    return s;
  }
  auto add = [&s](const char* ctrl, const char* file, const std::string& value) {
    s.files.push_back({ctrl, {file, value}});
  };
  const auto& memory = member(r, "memory");
  if (member(memory, "limit").is_number()) {
    add("memory", "memory.limit_in_bytes", std::to_string(memory.at("limit").get<std::int64_t>()));
  }
  if (member(memory, "reservation").is_number()) {
    add("memory", "memory.soft_limit_in_bytes",
        std::to_string(memory.at("reservation").get<std::int64_t>()));
  }
  if (member(memory, "swap").is_number()) {
    add("memory", "memory.memsw.limit_in_bytes",
        std::to_string(memory.at("swap").get<std::int64_t>()));
  }
  if (member(memory, "kernel").is_number()) {
    add("memory", "memory.kmem.limit_in_bytes",
        std::to_string(memory.at("kernel").get<std::int64_t>()));
  }
  if (member(memory, "kernelTCP").is_number()) {
    add("memory", "memory.kmem.tcp.limit_in_bytes",
        std::to_string(memory.at("kernelTCP").get<std::int64_t>()));
  }
  if (member(memory, "swappiness").is_number()) {
    add("memory", "memory.swappiness",
        std::to_string(memory.at("swappiness").get<std::uint64_t>()));
  }
  if (member(memory, "disableOOMKiller").is_boolean()) {
    add("memory", "memory.oom_control", memory.at("disableOOMKiller").get<bool>() ? "1" : "0");
  }
  const auto& cpu = member(r, "cpu");
  if (member(cpu, "shares").is_number()) {
    add("cpu", "cpu.shares", std::to_string(cpu.at("shares").get<std::uint64_t>()));
  }
  if (member(cpu, "period").is_number()) {
    add("cpu", "cpu.cfs_period_us", std::to_string(cpu.at("period").get<std::uint64_t>()));
  }
  if (member(cpu, "quota").is_number()) {
    add("cpu", "cpu.cfs_quota_us", std::to_string(cpu.at("quota").get<std::int64_t>()));
  }
  if (member(cpu, "realtimeRuntime").is_number()) {
    add("cpu", "cpu.rt_runtime_us", std::to_string(cpu.at("realtimeRuntime").get<std::int64_t>()));
  }
  if (member(cpu, "realtimePeriod").is_number()) {
    add("cpu", "cpu.rt_period_us", std::to_string(cpu.at("realtimePeriod").get<std::uint64_t>()));
  }
  if (const auto cpus = get_or<std::string>(cpu, "cpus", ""); !cpus.empty()) {
    s.resources.cpuset_cpus = cpus;
  }
  if (const auto mems = get_or<std::string>(cpu, "mems", ""); !mems.empty()) {
    s.resources.cpuset_mems = mems;
  }
  if (member(member(r, "pids"), "limit").is_number()) {
    const auto limit = r.at("pids").at("limit").get<std::int64_t>();
    add("pids", "pids.max", limit > 0 ? std::to_string(limit) : "max");
  }
  const auto& blkio = member(r, "blockIO");
  if (member(blkio, "weight").is_number()) {
    add("blkio", "blkio.weight", std::to_string(blkio.at("weight").get<unsigned>()));
  }
  if (member(blkio, "leafWeight").is_number()) {
    add("blkio", "blkio.leaf_weight", std::to_string(blkio.at("leafWeight").get<unsigned>()));
  }
  for (const auto& [key, file] : std::map<std::string, const char*>{
           {"throttleReadBpsDevice", "blkio.throttle.read_bps_device"},
           {"throttleWriteBpsDevice", "blkio.throttle.write_bps_device"},
           {"throttleReadIOPSDevice", "blkio.throttle.read_iops_device"},
           {"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"}}) {
    for (const auto& d : member(blkio, key.c_str()).is_array() ? blkio.at(key) : json::array()) {
      add("blkio", file,
          fmt::format("{}:{} {}", get_or<std::int64_t>(d, "major", 0),
                      get_or<std::int64_t>(d, "minor", 0), get_or<std::uint64_t>(d, "rate", 0)));
    }
  }
  for (const auto& d :
       member(blkio, "weightDevice").is_array() ? blkio.at("weightDevice") : json::array()) {
    if (member(d, "weight").is_number()) {
      add("blkio", "blkio.weight_device",
          fmt::format("{}:{} {}", get_or<std::int64_t>(d, "major", 0),
                      get_or<std::int64_t>(d, "minor", 0), d.at("weight").get<unsigned>()));
    }
  }
  for (const auto& h :
       member(r, "hugepageLimits").is_array() ? r.at("hugepageLimits") : json::array()) {
    s.files.push_back(
        {"hugetlb",
         {fmt::format("hugetlb.{}.limit_in_bytes", get_or<std::string>(h, "pageSize", "")),
          std::to_string(get_or<std::uint64_t>(h, "limit", 0))}});
  }
  const auto& network = member(r, "network");
  if (member(network, "classID").is_number()) {
    add("net_cls", "net_cls.classid", std::to_string(network.at("classID").get<std::uint32_t>()));
  }
  for (const auto& p :
       member(network, "priorities").is_array() ? network.at("priorities") : json::array()) {
    add("net_prio", "net_prio.ifpriomap",
        fmt::format("{} {}", get_or<std::string>(p, "name", ""),
                    get_or<std::uint32_t>(p, "priority", 0)));
  }
  if (member(r, "unified").is_object()) {
    for (const auto& [key, value] : r.at("unified").items()) {
      s.files.push_back({"unified", {key, value.get<std::string>()}});
    }
  }
  for (const auto& d : member(r, "devices").is_array() ? r.at("devices") : json::array()) {
    s.resources.devices.push_back(device_rule(d));
  }
  return s;
}

std::string cgroup_path(const std::string& cgroups_path, const std::string& id) {
  if (cgroups_path.empty()) {
    return "gctool-oci/" + id;
  }
  if (cgroups_path.front() != '/' &&
      std::count(cgroups_path.begin(), cgroups_path.end(), ':') == 2) {
    const auto first = cgroups_path.find(':');
    const auto second = cgroups_path.find(':', first + 1);
    auto slice = cgroups_path.substr(0, first);
    const auto prefix = cgroups_path.substr(first + 1, second - first - 1);
    const auto name = cgroups_path.substr(second + 1);
    if (slice.empty()) {
      slice = "system.slice";
    }
    return slice + "/" + (prefix.empty() ? name : prefix + "-" + name) + ".scope";
  }
  return cgroups_path;
}

Config load_config(const std::filesystem::path& bundle) {
  Config c;
  c.bundle = std::filesystem::absolute(bundle).lexically_normal();
  if (c.bundle.filename().empty()) {
    c.bundle = c.bundle.parent_path();  // "/b/" from "."
  }
  try {
    c.doc = load_json(c.bundle / "config.json");
  } catch (const Error& e) {
    if (e.errno_value() == ENOENT) {
      throw Error(ENOENT, fmt::format("open {}", (c.bundle / "config.json").string()));
    }
    throw;
  }
  const auto& doc = c.doc;
  try {
    const auto& root = member(doc, "root");
    const auto root_path = get_or<std::string>(root, "path", "");
    if (root_path.empty()) {
      throw_invalid("config.json: root.path is missing");
    }
    c.rootfs = std::filesystem::path(root_path).is_absolute() ? std::filesystem::path(root_path)
                                                              : c.bundle / root_path;
    c.root_readonly = get_or<bool>(root, "readonly", false);
    if (member(doc, "hostname").is_string()) {
      c.hostname = doc.at("hostname").get<std::string>();
    }
    if (member(doc, "domainname").is_string()) {
      c.domainname = doc.at("domainname").get<std::string>();
    }
    c.process = parse_process(member(doc, "process"));
    for (const auto& m : member(doc, "mounts").is_array() ? doc.at("mounts") : json::array()) {
      Mount mount;
      mount.destination = get_or<std::string>(m, "destination", "");
      if (mount.destination.empty() || mount.destination.front() != '/') {
        throw_invalid("config.json: mount destination \"{}\" is not absolute", mount.destination);
      }
      mount.type = get_or<std::string>(m, "type", "");
      mount.source = get_or<std::string>(m, "source", "");
      parse_mount_options(strings(m, "options"), mount);
      if (mount.type == "bind") {
        mount.bind = true;
      }
      if (member(m, "uidMappings").is_array() || member(m, "gidMappings").is_array()) {
        throw_invalid("mount \"{}\": idmapped mounts are not supported by gctool-oci",
                      mount.destination);
      }
      if (mount.bind && !mount.source.empty() && mount.source.front() != '/') {
        mount.source = (c.bundle / mount.source).string();
      }
      c.mounts.push_back(std::move(mount));
    }
    const auto& linux_doc = member(doc, "linux");
    for (const auto& ns :
         member(linux_doc, "namespaces").is_array() ? linux_doc.at("namespaces") : json::array()) {
      const int flag = namespace_flag(get_or<std::string>(ns, "type", ""));
      if (c.has_namespace(flag)) {
        throw_invalid("config.json: namespace \"{}\" given twice",
                      ns.at("type").get<std::string>());
      }
      c.namespaces.push_back({flag, get_or<std::string>(ns, "path", "")});
    }
    c.uid_mappings = id_mappings(member(linux_doc, "uidMappings"));
    c.gid_mappings = id_mappings(member(linux_doc, "gidMappings"));
    if (!c.uid_mappings.empty() && !c.has_namespace(CLONE_NEWUSER)) {
      throw_invalid("config.json: uidMappings need a user namespace");
    }
    for (const auto& d :
         member(linux_doc, "devices").is_array() ? linux_doc.at("devices") : json::array()) {
      Device dev;
      dev.path = get_or<std::string>(d, "path", "");
      const auto type = get_or<std::string>(d, "type", "c");
      dev.type = type == "u" ? 'c' : type.front();
      if (dev.path.empty() || dev.path.front() != '/' ||
          (dev.type != 'c' && dev.type != 'b' && dev.type != 'p')) {
        throw_invalid("config.json: bad device \"{}\" of type \"{}\"", dev.path, type);
      }
      dev.major = get_or<std::int64_t>(d, "major", 0);
      dev.minor = get_or<std::int64_t>(d, "minor", 0);
      dev.mode = get_or<mode_t>(d, "fileMode", 0666);
      dev.uid = get_or<uid_t>(d, "uid", 0);
      dev.gid = get_or<gid_t>(d, "gid", 0);
      c.devices.push_back(dev);
    }
    c.cgroup = parse_resources(member(linux_doc, "resources"));
    if (!c.cgroup.resources.devices.empty()) {
      // As runc: the devices every container has, and those of linux.devices, stay usable
      // whatever the rules say.
      for (const auto& rule : cgroup::default_device_rules()) {
        if (rule.allow) {
          c.cgroup.resources.devices.push_back(rule);
        }
      }
      for (const auto& d : c.devices) {
        if (d.type != 'p') {
          c.cgroup.resources.devices.push_back({true, d.type, d.major, d.minor, "rwm"});
        }
      }
    }
    c.cgroups_path = get_or<std::string>(linux_doc, "cgroupsPath", "");
    c.sysctl = get_or<std::map<std::string, std::string>>(linux_doc, "sysctl", {});
    c.masked_paths = strings(linux_doc, "maskedPaths");
    c.readonly_paths = strings(linux_doc, "readonlyPaths");
    if (member(linux_doc, "seccomp").is_object()) {
      c.seccomp = linux_doc.at("seccomp");
      if (!get_or<std::string>(*c.seccomp, "listenerPath", "").empty()) {
        throw_invalid("config.json: linux.seccomp.listenerPath is not supported by gctool-oci");
      }
    }
    if (const auto p = get_or<std::string>(linux_doc, "rootfsPropagation", ""); !p.empty()) {
      c.rootfs_propagation = propagation_flag(p);
      if (c.rootfs_propagation == 0) {
        throw_invalid("config.json: unknown rootfsPropagation \"{}\"", p);
      }
    }
    if (member(linux_doc, "intelRdt").is_object()) {
      throw_invalid("config.json: linux.intelRdt is not supported by gctool-oci");
    }
    if (member(linux_doc, "personality").is_object()) {
      throw_invalid("config.json: linux.personality is not supported by gctool-oci");
    }
    // linux.mountLabel is an SELinux context for the mounts: without SELinux there is nothing to
    // label, and crun ignores it the same way.
    const auto& hooks = member(doc, "hooks");
    c.hooks.prestart = hook_list(hooks, "prestart");
    c.hooks.create_runtime = hook_list(hooks, "createRuntime");
    c.hooks.create_container = hook_list(hooks, "createContainer");
    c.hooks.start_container = hook_list(hooks, "startContainer");
    c.hooks.poststart = hook_list(hooks, "poststart");
    c.hooks.poststop = hook_list(hooks, "poststop");
    c.annotations = get_or<std::map<std::string, std::string>>(doc, "annotations", {});
  } catch (const json::exception& e) {
    throw_invalid("config.json: {}", e.what());
  }
  return c;
}

}  // namespace gctool::oci
