#include "gctool/container/state.hpp"

#include "gctool/core/error.hpp"

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

}  // namespace

json to_json(const Record& r) {
  const Spec& s = r.spec;
  const auto args = r.args();
  json binds = json::array();
  json mounts = json::array();
  for (const auto& b : s.binds) {
    binds.push_back(b.source + ":" + b.destination + (b.read_only ? ":ro" : ""));
    mounts.push_back({{"Type", "bind"},
                      {"Source", b.source},
                      {"Destination", b.destination},
                      {"RW", !b.read_only}});
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
       {{"Status", to_string(r.state.status)},
        // As Docker: a restarting container counts as running.
        {"Running", r.state.status == Status::running || r.state.status == Status::restarting},
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
        {"User", s.user},
        {"Tty", s.tty},
        {"OpenStdin", s.open_stdin},
        {"Env", s.env},
        {"Cmd", s.cmd},
        {"Entrypoint", s.entrypoint},
        {"WorkingDir", s.working_dir},
        {"Image", s.image_ref},
        {"StopSignal", s.stop_signal}}},
      {"HostConfig",
       {{"Memory", res.memory_bytes.value_or(0)},
        {"NanoCpus", res.nano_cpus.value_or(0)},
        {"CpuShares", res.cpu_shares.value_or(0)},
        {"CpusetCpus", res.cpuset_cpus.value_or("")},
        {"CpusetMems", res.cpuset_mems.value_or("")},
        {"PidsLimit", optional_json(res.pids_limit)},
        {"ReadonlyRootfs", s.read_only_rootfs},
        {"AutoRemove", s.auto_remove},
        {"Binds", binds},
        {"NetworkMode", s.network_mode},
        {"CapAdd", s.cap_add},
        {"CapDrop", s.cap_drop},
        {"Privileged", s.privileged},
        {"SecurityOpt", s.security_opts}}},
      {"Mounts", mounts},
      {"Gctool",
       {{"Owner", process_json(r.owner)},
        {"CgroupPath", r.cgroup_path},
        {"LayerDirs", layers},
        {"RequestedHostname", s.hostname}}},
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
    r.state.status = status_from_string(st.at("Status").get<std::string>());
    r.state.process = ProcessId{st.value("Pid", 0), st.value("PidStartTime", std::uint64_t{0})};
    r.state.exit_code = st.value("ExitCode", 0);
    r.state.oom_killed = st.value("OOMKilled", false);
    r.state.started_at = st.value("StartedAt", "");
    r.state.finished_at = st.value("FinishedAt", "");
    r.state.error = st.value("Error", "");
    const json& c = j.at("Config");
    r.hostname = c.value("Hostname", "");
    s.user = c.value("User", "");
    s.tty = c.value("Tty", false);
    s.open_stdin = c.value("OpenStdin", false);
    s.env = c.value("Env", std::vector<std::string>{});
    s.cmd = c.value("Cmd", std::vector<std::string>{});
    s.entrypoint = c.value("Entrypoint", std::vector<std::string>{});
    s.working_dir = c.value("WorkingDir", "");
    s.stop_signal = c.value("StopSignal", "");
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
    s.read_only_rootfs = h.value("ReadonlyRootfs", false);
    s.auto_remove = h.value("AutoRemove", false);
    s.network_mode = h.value("NetworkMode", "none");
    s.cap_add = h.value("CapAdd", std::vector<std::string>{});
    s.cap_drop = h.value("CapDrop", std::vector<std::string>{});
    s.privileged = h.value("Privileged", false);
    s.security_opts = h.value("SecurityOpt", std::vector<std::string>{});
    for (const auto& m : j.value("Mounts", json::array())) {
      s.binds.push_back(BindMount{m.at("Source").get<std::string>(),
                                  m.at("Destination").get<std::string>(), !m.value("RW", true)});
    }
    const json& g = j.at("Gctool");
    r.owner = process_from(g.value("Owner", json::object()));
    r.cgroup_path = g.value("CgroupPath", "");
    for (const auto& dir : g.value("LayerDirs", std::vector<std::string>{})) {
      s.layer_dirs.emplace_back(dir);
    }
    s.hostname = g.value("RequestedHostname", "");
    return r;
  } catch (const json::exception& e) {
    throw_invalid("invalid container state: {}", e.what());
  }
}

}  // namespace gctool::container
