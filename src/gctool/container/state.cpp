#include "gctool/container/state.hpp"

#include <sys/mount.h>

#include <algorithm>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_scan.hpp"
#include "gctool/net/network.hpp"

namespace gctool::container {

using nlohmann::json;

std::string_view to_string(Status status) noexcept {
  switch (status) {
    case Status::created:
      return "created";
    case Status::running:
      return "running";
    case Status::restarting:
      return "restarting";
    case Status::exited:
      return "exited";
  }
  return "unknown";
}

std::string_view status_name(const State& state) noexcept {
  return state.status == Status::running && state.paused ? "paused" : to_string(state.status);
}

Status status_from_string(std::string_view text) {
  for (const auto status : {Status::created, Status::running, Status::restarting, Status::exited}) {
    if (to_string(status) == text) {
      return status;
    }
  }
  throw_invalid("unknown container status \"{}\"", text);
}

std::vector<std::string> Record::args() const {
  std::vector<std::string> all = spec.entrypoint;
  all.insert(all.end(), spec.cmd.begin(), spec.cmd.end());
  return all;
}

namespace {

template <typename T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

template <typename T>
std::optional<T> optional_from(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return std::nullopt;
  }
  return it->get<T>();
}

json process_json(const ProcessId& p) {
  return {{"Pid", p.pid}, {"StartTime", p.start_time}};
}

ProcessId process_from(const json& j) {
  return ProcessId{j.value("Pid", 0), j.value("StartTime", std::uint64_t{0})};
}

// Docker's "80/tcp" key of a port.
std::string port_key(const net::PortMapping& p) {
  return fmt::format("{}/{}", p.container_port, net::to_string(p.protocol));
}

// Docker's PortBindings / NetworkSettings.Ports: {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}.
// An unset host address is "" as requested and "0.0.0.0" once published; port 0 is "".
json port_bindings_json(const std::vector<net::PortMapping>& ports, const char* any_address) {
  json out = json::object();
  for (const auto& p : ports) {
    out[port_key(p)].push_back(
        {{"HostIp", p.host_ip ? net::to_string(*p.host_ip) : std::string(any_address)},
         {"HostPort", p.host_port == 0 ? std::string() : std::to_string(p.host_port)}});
  }
  return out;
}

std::vector<net::PortMapping> port_bindings_from(const json& j) {
  std::vector<net::PortMapping> ports;
  for (const auto& [key, bindings] : j.items()) {
    const auto container = net::parse_publish(key);
    for (const auto& b : bindings) {
      net::PortMapping p = container;
      const auto ip = b.value("HostIp", "");
      if (!ip.empty() && ip != "0.0.0.0") {
        p.host_ip = net::parse_ipv4(ip);
      }
      const auto port = b.value("HostPort", "");
      p.host_port = port.empty() ? 0 : static_cast<std::uint16_t>(std::stoul(port));
      ports.push_back(p);
    }
  }
  return ports;
}

// Docker's NetworkSettings: one endpoint under Networks.<name>, its values repeated at the top
// for the default network, empty while the container is not attached.
json network_settings_json(const Record& r) {
  const auto& a = r.network;
  const std::string name = a ? a->network : network_name_of(r.spec.network_mode);
  const std::string ip = a ? net::to_string(a->ip) : "";
  const std::string gateway = a ? net::to_string(a->gateway) : "";
  const std::string mac = a ? net::to_string(a->mac) : "";
  const int prefix = a ? a->prefix : 0;
  const std::string ip6 = a && a->ip6 ? net::to_string(*a->ip6) : "";
  const std::string gateway6 = a && a->gateway6 ? net::to_string(*a->gateway6) : "";
  const int prefix6 = a ? a->prefix6 : 0;
  json ipam_config = json(nullptr);
  if (r.spec.ip || r.spec.ip6) {
    ipam_config = json::object();
    if (r.spec.ip) {
      ipam_config["IPv4Address"] = net::to_string(*r.spec.ip);
    }
    if (r.spec.ip6) {
      ipam_config["IPv6Address"] = net::to_string(*r.spec.ip6);
    }
  }
  const bool is_default = name == net::kDefaultNetwork;
  return {{"Bridge", ""},
          {"Ports", a ? port_bindings_json(a->ports, "0.0.0.0") : json::object()},
          {"IPAddress", is_default ? ip : ""},
          {"IPPrefixLen", is_default ? prefix : 0},
          {"Gateway", is_default ? gateway : ""},
          {"MacAddress", is_default ? mac : ""},
          {"GlobalIPv6Address", is_default ? ip6 : ""},
          {"GlobalIPv6PrefixLen", is_default ? prefix6 : 0},
          {"IPv6Gateway", is_default ? gateway6 : ""},
          {"Networks",
           {{name,
             {{"IPAMConfig", ipam_config},
              {"MacAddress", mac},
              {"Gateway", gateway},
              {"IPAddress", ip},
              {"IPPrefixLen", prefix},
              {"IPv6Gateway", gateway6},
              {"GlobalIPv6Address", ip6},
              {"GlobalIPv6PrefixLen", prefix6}}}}}};
}

json connected_networks_json(const std::vector<NetworkConnection>& connections) {
  json out = json::array();
  for (const auto& c : connections) {
    out.push_back({{"Network", c.network},
                   {"IPAddress", c.ip ? json(net::to_string(*c.ip)) : json(nullptr)},
                   {"IPv6Address", c.ip6 ? json(net::to_string(*c.ip6)) : json(nullptr)},
                   {"Aliases", c.aliases}});
  }
  return out;
}

// Docker's HostConfig.Devices.
json devices_json(const std::vector<DeviceMapping>& devices) {
  json out = json::array();
  for (const auto& d : devices) {
    out.push_back({{"PathOnHost", d.host_path},
                   {"PathInContainer", d.container_path},
                   {"CgroupPermissions", d.permissions}});
  }
  return out;
}

// Docker's HostConfig.BlkioDeviceReadBps and the like: [{"Path": "/dev/sda", "Rate": 1048576}].
json throttle_json(const std::vector<cgroup::ThrottleDevice>& devices) {
  json out = json::array();
  for (const auto& d : devices) {
    out.push_back({{"Path", d.path}, {"Rate", d.rate}});
  }
  return out;
}

// The device number is looked up again, as Docker does when a container starts: a device that
// is gone by then fails the start, not the loading of the record.
std::vector<cgroup::ThrottleDevice> throttle_from(const json& host_config, const char* key) {
  std::vector<cgroup::ThrottleDevice> out;
  const auto it = host_config.find(key);
  if (it == host_config.end() || !it->is_array()) {
    return out;
  }
  for (const auto& d : *it) {
    cgroup::ThrottleDevice device{d.at("Path").get<std::string>()};
    device.rate = d.at("Rate").get<std::uint64_t>();
    cgroup::resolve_block_device(device);  // a failure is reported by the start (device_number)
    out.push_back(std::move(device));
  }
  return out;
}

}  // namespace

std::string network_name_of(std::string_view mode) {
  return mode == "default" || mode.empty() ? std::string(net::kDefaultNetwork) : std::string(mode);
}

json to_json(const Record& r) {
  const Spec& s = r.spec;
  const auto args = r.args();
  json binds = json::array();
  json mounts = json::array();
  json anonymous = json::array();
  for (const auto& b : s.binds) {
    const bool named = !b.volume.empty();
    binds.push_back((named ? b.volume : b.source) + ":" + b.destination +
                    (b.read_only ? ":ro" : ""));
    json mount = {{"Type", named ? "volume" : "bind"},
                  {"Source", b.source},
                  {"Destination", b.destination},
                  {"RW", !b.read_only},
                  {"Propagation", named                   ? ""
                                  : b.propagation.empty() ? "rprivate"
                                                          : b.propagation}};
    if (b.anonymous) {
      anonymous.push_back(b.volume);
    }
    if (named) {
      mount["Name"] = b.volume;
      mount["Driver"] = "local";
    }
    mounts.push_back(std::move(mount));
  }
  json tmpfs = json::object();
  for (const auto& t : s.tmpfs) {
    tmpfs[t.destination] = t.options;
    mounts.push_back({{"Type", "tmpfs"},
                      {"Source", ""},
                      {"Destination", t.destination},
                      {"RW", (tmpfs_mount_data(t.options).flags & MS_RDONLY) == 0},
                      {"Propagation", ""},
                      {"Options", t.options}});
  }
  json ulimits = json::array();
  for (const auto& u : s.ulimits) {
    ulimits.push_back({{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
  }
  json layers = json::array();
  for (const auto& dir : s.layer_dirs) {
    layers.push_back(dir.string());
  }
  const auto& res = s.resources;
  return {
      {"Id", r.id},
      {"Name", "/" + r.name},
      {"Created", r.created},
      {"Path", args.empty() ? std::string() : args.front()},
      {"Args",
       args.empty() ? json::array() : json(std::vector<std::string>(args.begin() + 1, args.end()))},
      {"ImageId", s.image_id},
      {"Image", s.image_ref},
      {"RestartCount", r.restart_count},
      {"State",
       {{"Status", status_name(r.state)},
        // As Docker: a restarting container counts as running.
        {"Running", r.state.status == Status::running || r.state.status == Status::restarting},
        {"Paused", r.state.status == Status::running && r.state.paused},
        {"Restarting", r.state.status == Status::restarting},
        {"Pid", r.state.process.pid},
        {"PidStartTime", r.state.process.start_time},
        {"ExitCode", r.state.exit_code},
        {"OOMKilled", r.state.oom_killed},
        {"StartedAt", r.state.started_at},
        {"FinishedAt", r.state.finished_at},
        {"Error", r.state.error}}},
      {"Config",
       {{"Hostname", r.hostname},
        {"Domainname", s.domainname},
        {"User", s.user},
        {"Tty", s.tty},
        {"OpenStdin", s.open_stdin},
        {"AttachStdin", s.attach_stdin},
        {"AttachStdout", s.attach_stdout},
        {"AttachStderr", s.attach_stderr},
        {"Env", s.env},
        {"Cmd", s.cmd},
        {"Entrypoint", s.entrypoint},
        {"WorkingDir", s.working_dir},
        {"Image", s.image_ref},
        {"StopSignal", s.stop_signal},
        {"StopTimeout", optional_json(s.stop_timeout)},
        {"Labels", s.labels},
        {"MacAddress", s.mac ? net::to_string(*s.mac) : ""},
        {"Healthcheck", s.healthcheck ? json(*s.healthcheck) : json(nullptr)}}},
      {"HostConfig",
       {{"Memory", res.memory_bytes.value_or(0)},
        {"NanoCpus", res.nano_cpus.value_or(0)},
        {"CpuShares", res.cpu_shares.value_or(0)},
        {"CpusetCpus", res.cpuset_cpus.value_or("")},
        {"CpusetMems", res.cpuset_mems.value_or("")},
        {"PidsLimit", optional_json(res.pids_limit)},
        {"MemorySwap", res.memory_swap.value_or(0)},
        {"MemoryReservation", res.memory_reservation.value_or(0)},
        {"OomKillDisable", res.oom_kill_disable},
        {"CpuPeriod", res.cpu_period.value_or(0)},
        {"CpuQuota", res.cpu_quota.value_or(0)},
        {"BlkioWeight", res.blkio_weight.value_or(0)},
        {"BlkioDeviceReadBps", throttle_json(res.device_read_bps)},
        {"BlkioDeviceWriteBps", throttle_json(res.device_write_bps)},
        {"BlkioDeviceReadIOps", throttle_json(res.device_read_iops)},
        {"BlkioDeviceWriteIOps", throttle_json(res.device_write_iops)},
        {"MemorySwappiness", optional_json(res.memory_swappiness)},
        {"OomScoreAdj", s.oom_score_adj.value_or(0)},
        {"CgroupnsMode", s.cgroupns_mode.empty() ? "private" : s.cgroupns_mode},
        {"CgroupParent", s.cgroup_parent},
        {"ReadonlyRootfs", s.read_only_rootfs},
        {"AutoRemove", s.auto_remove},
        {"Binds", binds},
        {"NetworkMode", s.network_mode},
        {"PortBindings", port_bindings_json(s.publish, "")},
        {"Dns", s.dns},
        {"DnsSearch", s.dns_search},
        {"DnsOptions", s.dns_options},
        {"ExtraHosts", s.extra_hosts},
        {"Links", s.links},
        {"CapAdd", s.cap_add},
        {"CapDrop", s.cap_drop},
        {"Privileged", s.privileged},
        {"SecurityOpt", s.security_opts},
        {"Devices", devices_json(s.devices)},
        {"Tmpfs", tmpfs},
        {"Ulimits", ulimits},
        {"ShmSize", s.shm_size.value_or(kDefaultShmSize)},
        {"PidMode", s.pid_mode},
        {"UTSMode", s.uts_mode},
        {"IpcMode", s.ipc_mode.empty() ? "private" : s.ipc_mode},
        {"Sysctls", s.sysctls},
        {"GroupAdd", s.group_add},
        {"Init", s.init ? json(true) : json(nullptr)},
        {"VolumesFrom", s.volumes_from.empty() ? json(nullptr) : json(s.volumes_from)}}},
      {"Mounts", mounts},
      {"NetworkSettings", network_settings_json(r)},
      {"Gctool",
       {{"Owner", process_json(r.owner)},
        {"CgroupPath", r.cgroup_path},
        {"LayerDirs", layers},
        {"RequestedHostname", s.hostname},
        {"RequestedIp", s.ip ? json(net::to_string(*s.ip)) : json(nullptr)},
        {"RequestedIp6", s.ip6 ? json(net::to_string(*s.ip6)) : json(nullptr)},
        {"NetworkAliases", s.network_aliases},
        {"AnonymousVolumes", anonymous},
        {"ConnectedNetworks", connected_networks_json(s.connected_networks)},
        {"NetworkModeDisconnected", s.network_mode_disconnected},
        {"Network", r.network ? net::to_json(*r.network) : json(nullptr)}}},
  };
}

Record record_from_json(const json& j) {
  try {
    Record r;
    r.id = j.at("Id").get<std::string>();
    r.name = j.at("Name").get<std::string>();
    if (r.name.starts_with('/')) {
      r.name.erase(0, 1);
    }
    r.created = j.value("Created", "");
    r.restart_count = j.value("RestartCount", 0);
    Spec& s = r.spec;
    s.name = r.name;
    s.image_id = j.value("ImageId", "");
    s.image_ref = j.value("Image", "");
    const json& st = j.at("State");
    const auto status = st.at("Status").get<std::string>();
    r.state.paused = status == "paused";
    r.state.status = r.state.paused ? Status::running : status_from_string(status);
    r.state.process = ProcessId{st.value("Pid", 0), st.value("PidStartTime", std::uint64_t{0})};
    r.state.exit_code = st.value("ExitCode", 0);
    r.state.oom_killed = st.value("OOMKilled", false);
    r.state.started_at = st.value("StartedAt", "");
    r.state.finished_at = st.value("FinishedAt", "");
    r.state.error = st.value("Error", "");
    const json& c = j.at("Config");
    r.hostname = c.value("Hostname", "");
    s.domainname = c.value("Domainname", "");
    s.user = c.value("User", "");
    s.tty = c.value("Tty", false);
    s.open_stdin = c.value("OpenStdin", false);
    s.attach_stdin = c.value("AttachStdin", false);
    s.attach_stdout = c.value("AttachStdout", true);
    s.attach_stderr = c.value("AttachStderr", true);
    s.env = c.value("Env", std::vector<std::string>{});
    s.cmd = c.value("Cmd", std::vector<std::string>{});
    s.entrypoint = c.value("Entrypoint", std::vector<std::string>{});
    s.working_dir = c.value("WorkingDir", "");
    s.stop_signal = c.value("StopSignal", "");
    s.stop_timeout = optional_from<int>(c, "StopTimeout");
    s.labels = c.value("Labels", std::map<std::string, std::string>{});
    if (const auto mac = c.value("MacAddress", ""); !mac.empty()) {
      s.mac = net::parse_mac(mac);
    }
    if (const auto it = c.find("Healthcheck"); it != c.end() && it->is_object()) {
      s.healthcheck = it->get<image::Healthcheck>();
    }
    const json& h = j.at("HostConfig");
    auto& res = s.resources;
    const auto positive = [&](const char* key) -> std::optional<std::int64_t> {
      const auto v = h.value(key, std::int64_t{0});
      return v > 0 ? std::optional<std::int64_t>(v) : std::nullopt;
    };
    res.memory_bytes = positive("Memory");
    res.nano_cpus = positive("NanoCpus");
    res.cpu_shares = positive("CpuShares");
    if (auto v = h.value("CpusetCpus", ""); !v.empty()) {
      res.cpuset_cpus = v;
    }
    if (auto v = h.value("CpusetMems", ""); !v.empty()) {
      res.cpuset_mems = v;
    }
    res.pids_limit = optional_from<std::int64_t>(h, "PidsLimit");
    if (const auto swap = h.value("MemorySwap", std::int64_t{0}); swap != 0) {
      res.memory_swap = swap;
    }
    res.memory_reservation = positive("MemoryReservation");
    res.oom_kill_disable = h.value("OomKillDisable", false);
    res.cpu_period = positive("CpuPeriod");
    if (const auto quota = h.value("CpuQuota", std::int64_t{0}); quota != 0) {
      res.cpu_quota = quota;
    }
    res.blkio_weight = positive("BlkioWeight");
    res.device_read_bps = throttle_from(h, "BlkioDeviceReadBps");
    res.device_write_bps = throttle_from(h, "BlkioDeviceWriteBps");
    res.device_read_iops = throttle_from(h, "BlkioDeviceReadIOps");
    res.device_write_iops = throttle_from(h, "BlkioDeviceWriteIOps");
    res.memory_swappiness = optional_from<std::int64_t>(h, "MemorySwappiness");
    if (const auto adj = h.value("OomScoreAdj", 0); adj != 0) {
      s.oom_score_adj = adj;
    }
    if (const auto mode = h.value("CgroupnsMode", ""); mode != "private") {
      s.cgroupns_mode = mode;
    }
    s.cgroup_parent = h.value("CgroupParent", "");
    s.read_only_rootfs = h.value("ReadonlyRootfs", false);
    s.auto_remove = h.value("AutoRemove", false);
    s.network_mode = h.value("NetworkMode", "none");
    s.publish = port_bindings_from(h.value("PortBindings", json::object()));
    s.dns = h.value("Dns", std::vector<std::string>{});
    s.dns_search = h.value("DnsSearch", std::vector<std::string>{});
    s.dns_options = h.value("DnsOptions", std::vector<std::string>{});
    s.extra_hosts = h.value("ExtraHosts", std::vector<std::string>{});
    s.links = h.value("Links", std::vector<std::string>{});
    s.cap_add = h.value("CapAdd", std::vector<std::string>{});
    s.cap_drop = h.value("CapDrop", std::vector<std::string>{});
    s.privileged = h.value("Privileged", false);
    s.security_opts = h.value("SecurityOpt", std::vector<std::string>{});
    for (const auto& d : h.value("Devices", json::array())) {
      s.devices.push_back(DeviceMapping{d.at("PathOnHost").get<std::string>(),
                                        d.at("PathInContainer").get<std::string>(),
                                        d.value("CgroupPermissions", "rwm")});
    }
    const json tmpfs = h.value("Tmpfs", json::object());
    for (auto it = tmpfs.begin(); it != tmpfs.end(); ++it) {
      s.tmpfs.push_back(TmpfsMount{it.key(), it.value().get<std::string>()});
    }
    const json ulimits = h.value("Ulimits", json::array());
    for (const auto& u : ulimits) {
      s.ulimits.push_back(Ulimit{u.at("Name").get<std::string>(), u.at("Soft").get<std::int64_t>(),
                                 u.at("Hard").get<std::int64_t>()});
    }
    if (const auto shm = h.value("ShmSize", kDefaultShmSize); shm != kDefaultShmSize) {
      s.shm_size = shm;
    }
    s.pid_mode = h.value("PidMode", "");
    s.uts_mode = h.value("UTSMode", "");
    s.ipc_mode = h.value("IpcMode", "");
    s.sysctls = h.value("Sysctls", std::map<std::string, std::string>{});
    s.group_add = h.value("GroupAdd", std::vector<std::string>{});
    s.init = h.contains("Init") && h["Init"].is_boolean() && h["Init"].get<bool>();
    if (const auto it = h.find("VolumesFrom"); it != h.end() && it->is_array()) {
      s.volumes_from = it->get<std::vector<std::string>>();
    }
    const json& g = j.at("Gctool");
    const auto anonymous = g.value("AnonymousVolumes", std::vector<std::string>{});
    for (const auto& m : j.value("Mounts", json::array())) {
      const std::string type = m.value("Type", "");
      if (type == "tmpfs") {
        continue;
      }
      BindMount bind;
      bind.source = m.at("Source").get<std::string>();
      bind.destination = m.at("Destination").get<std::string>();
      bind.read_only = !m.value("RW", true);
      bind.volume = type == "volume" ? m.value("Name", "") : "";
      bind.anonymous = !bind.volume.empty() && std::find(anonymous.begin(), anonymous.end(),
                                                         bind.volume) != anonymous.end();
      if (type == "bind" && m.value("Propagation", "rprivate") != "rprivate") {
        bind.propagation = m.value("Propagation", "");
      }
      s.binds.push_back(std::move(bind));
    }
    r.owner = process_from(g.value("Owner", json::object()));
    r.cgroup_path = g.value("CgroupPath", "");
    for (const auto& dir : g.value("LayerDirs", std::vector<std::string>{})) {
      s.layer_dirs.emplace_back(dir);
    }
    s.hostname = g.value("RequestedHostname", "");
    s.network_aliases = g.value("NetworkAliases", std::vector<std::string>{});
    for (const auto& c : g.value("ConnectedNetworks", json::array())) {
      NetworkConnection connection;
      connection.network = c.at("Network").get<std::string>();
      connection.aliases = c.value("Aliases", std::vector<std::string>{});
      if (const auto ip = optional_from<std::string>(c, "IPAddress")) {
        connection.ip = net::parse_ipv4(*ip);
      }
      if (const auto ip6 = optional_from<std::string>(c, "IPv6Address")) {
        connection.ip6 = net::parse_ipv6(*ip6);
      }
      s.connected_networks.push_back(std::move(connection));
    }
    s.network_mode_disconnected = g.value("NetworkModeDisconnected", false);
    if (const auto ip = optional_from<std::string>(g, "RequestedIp")) {
      s.ip = net::parse_ipv4(*ip);
    }
    if (const auto ip6 = optional_from<std::string>(g, "RequestedIp6")) {
      s.ip6 = net::parse_ipv6(*ip6);
    }
    if (const auto it = g.find("Network"); it != g.end() && !it->is_null()) {
      r.network = net::attachment_from_json(*it);
    }
    return r;
  } catch (const json::exception& e) {
    throw_invalid("invalid container state: {}", e.what());
  }
}

Record record_for_listing(std::string_view text) {
  JsonScanner in(text);
  Record r;
  Spec& s = r.spec;
  std::vector<std::string> anonymous;
  const auto strings = [&] {
    std::vector<std::string> list;
    in.array([&] { list.push_back(in.string()); });
    return list;
  };
  const auto process = [&] {
    ProcessId p;
    in.object([&](std::string_view key) {
      if (key == "Pid") {
        p.pid = static_cast<pid_t>(in.integer());
      } else if (key == "StartTime") {
        p.start_time = in.unsigned_integer();
      } else {
        in.skip();
      }
    });
    return p;
  };
  const auto state = [&](std::string_view key) {
    State& st = r.state;
    if (key == "Status") {
      const auto status = in.string();
      st.paused = status == "paused";
      st.status = st.paused ? Status::running : status_from_string(status);
    } else if (key == "Pid") {
      st.process.pid = static_cast<pid_t>(in.integer());
    } else if (key == "PidStartTime") {
      st.process.start_time = in.unsigned_integer();
    } else if (key == "ExitCode") {
      st.exit_code = static_cast<int>(in.integer());
    } else if (key == "OOMKilled") {
      st.oom_killed = in.boolean();
    } else if (key == "StartedAt") {
      st.started_at = in.string();
    } else if (key == "FinishedAt") {
      st.finished_at = in.string();
    } else if (key == "Error") {
      st.error = in.string();
    } else {
      in.skip();
    }
  };
  const auto config = [&](std::string_view key) {
    if (key == "Cmd") {
      s.cmd = strings();
    } else if (key == "Entrypoint") {
      s.entrypoint = strings();
    } else if (key == "Labels") {
      in.object([&](std::string_view label) { s.labels[std::string(label)] = in.string(); });
    } else if (key == "Healthcheck") {
      // Only whether it checks: ps shows the status the supervisor keeps in health.json.
      if (!in.null()) {
        image::Healthcheck check;
        in.object([&](std::string_view field) {
          if (field == "Test") {
            check.test = strings();
          } else {
            in.skip();
          }
        });
        s.healthcheck = std::move(check);
      }
    } else {
      in.skip();
    }
  };
  const auto host_config = [&](std::string_view key) {
    if (key == "NetworkMode") {
      s.network_mode = in.string();
    } else if (key == "AutoRemove") {
      s.auto_remove = in.boolean();
    } else {
      in.skip();
    }
  };
  const auto mount = [&] {
    std::string type;
    std::string propagation = "rprivate";
    BindMount bind;
    bind.source = bind.destination = "\n";  // required: "\n" is no path of a record
    in.object([&](std::string_view key) {
      if (key == "Type") {
        type = in.string();
      } else if (key == "Source") {
        bind.source = in.string();
      } else if (key == "Destination") {
        bind.destination = in.string();
      } else if (key == "RW") {
        bind.read_only = !in.boolean();
      } else if (key == "Name") {
        bind.volume = in.string();
      } else if (key == "Propagation") {
        propagation = in.string();
      } else {
        in.skip();
      }
    });
    if (bind.source == "\n" || bind.destination == "\n") {
      throw JsonScanError();
    }
    if (type == "tmpfs") {
      return;
    }
    if (type != "volume") {
      bind.volume.clear();
    }
    if (type == "bind" && propagation != "rprivate") {
      bind.propagation = propagation;
    }
    s.binds.push_back(std::move(bind));
  };
  const auto gctool = [&](std::string_view key) {
    if (key == "Owner") {
      r.owner = process();
    } else if (key == "CgroupPath") {
      r.cgroup_path = in.string();
    } else if (key == "AnonymousVolumes") {
      anonymous = strings();
    } else if (key == "Network") {
      if (!in.null()) {
        r.network = net::attachment_from_json(json::parse(in.raw()));
      }
    } else {
      in.skip();
    }
  };
  bool id = false;
  bool name = false;
  int sections = 0;  // State, Config, HostConfig, Gctool
  in.object([&](std::string_view key) {
    if (key == "Id") {
      r.id = in.string();
      id = true;
    } else if (key == "Name") {
      r.name = in.string();
      name = true;
    } else if (key == "Created") {
      r.created = in.string();
    } else if (key == "RestartCount") {
      r.restart_count = static_cast<int>(in.integer());
    } else if (key == "ImageId") {
      s.image_id = in.string();
    } else if (key == "Image") {
      s.image_ref = in.string();
    } else if (key == "State") {
      in.object(state);
      ++sections;
    } else if (key == "Config") {
      in.object(config);
      ++sections;
    } else if (key == "HostConfig") {
      in.object(host_config);
      ++sections;
    } else if (key == "Mounts") {
      in.array(mount);
    } else if (key == "Gctool") {
      in.object(gctool);
      ++sections;
    } else {
      in.skip();
    }
  });
  in.end();
  // What record_from_json requires; without it the whole parse decides.
  if (!id || !name || sections != 4 || s.network_mode.empty()) {
    throw JsonScanError();
  }
  if (r.name.starts_with('/')) {
    r.name.erase(0, 1);
  }
  s.name = r.name;
  for (auto& bind : s.binds) {
    bind.anonymous = !bind.volume.empty() &&
                     std::find(anonymous.begin(), anonymous.end(), bind.volume) != anonymous.end();
  }
  return r;
}

Record record_names(std::string_view text) {
  JsonScanner in(text);
  Record r;
  bool id = false;
  bool name = false;
  int sections = 0;  // State, Config, HostConfig, Gctool
  in.object([&](std::string_view key) {
    if (key == "Id") {
      r.id = in.string();
      id = true;
    } else if (key == "Name") {
      r.name = in.string();
      name = true;
    } else {
      sections += key == "State" || key == "Config" || key == "HostConfig" || key == "Gctool";
      in.skip();
    }
  });
  in.end();
  if (!id || !name || sections != 4) {
    throw JsonScanError();
  }
  if (r.name.starts_with('/')) {
    r.name.erase(0, 1);
  }
  r.spec.name = r.name;
  return r;
}

namespace {

// Follows the keys of a JSON text as far as it parses and keeps the values salvage_identity
// wants; stops at the first error.
class IdentitySax : public nlohmann::json_sax<json> {
 public:
  RecordIdentity identity;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t value) override {
    return value >= 0 ? number_unsigned(static_cast<number_unsigned_t>(value)) : true;
  }
  bool number_unsigned(number_unsigned_t value) override {
    if (at({"Gctool", "Owner", "Pid"})) {
      identity.owner.pid = static_cast<pid_t>(value);
    } else if (at({"Gctool", "Owner", "StartTime"})) {
      identity.owner.start_time = value;
    }
    return true;
  }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t& value) override {
    if (at({"Name"})) {
      const std::string_view name = std::string_view(value).substr(value.starts_with('/') ? 1 : 0);
      if (valid_name(name)) {
        identity.name = name;
      }
    }
    return true;
  }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    path_.emplace_back();
    return true;
  }
  bool key(string_t& key) override {
    path_.back() = key;
    return true;
  }
  bool end_object() override {
    path_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    path_.emplace_back("[]");
    return true;
  }
  bool end_array() override {
    path_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool at(std::initializer_list<std::string_view> keys) const {
    return std::equal(path_.begin(), path_.end(), keys.begin(), keys.end());
  }
  std::vector<std::string> path_;
};

}  // namespace

RecordIdentity salvage_identity(std::string_view text) {
  IdentitySax sax;
  json::sax_parse(text, &sax);
  // A pid without its start time cannot be told from a reused one.
  if (sax.identity.owner.start_time == 0) {
    sax.identity.owner = {};
  }
  return sax.identity;
}

}  // namespace gctool::container
