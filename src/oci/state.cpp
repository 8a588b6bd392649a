#include "state.hpp"

#include <fmt/format.h>

#include "cgroup_setup.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/sys/pidfd.hpp"

namespace gctool::oci {

void validate_id(const std::string& id) {
  const bool ok = !id.empty() && id.size() <= 1024 && id != "." && id != ".." &&
                  id.find_first_not_of(
                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_+-.") == std::string::npos;
  if (!ok) {
    throw_invalid("invalid container id \"{}\"", id);
  }
}

std::filesystem::path container_dir(const std::filesystem::path& root, const std::string& id) {
  validate_id(id);
  return root / id;
}

std::filesystem::path seccomp_cache_dir(const std::filesystem::path& root) {
  return root / "@seccomp-cache";
}

State load_state(const std::filesystem::path& root, const std::string& id) {
  const auto dir = container_dir(root, id);
  const auto doc = try_load_json(dir / "state.json");
  if (!doc) {
    throw Error(ENOENT, fmt::format("container \"{}\" does not exist", id));
  }
  State s;
  try {
    s.id = doc->at("id").get<std::string>();
    s.pid = doc->at("pid").get<pid_t>();
    s.start_time = doc->at("start_time").get<std::uint64_t>();
    s.bundle = doc->at("bundle").get<std::string>();
    s.rootfs = doc->at("rootfs").get<std::string>();
    s.created = doc->at("created").get<std::string>();
    s.cgroup_path = doc->at("cgroup_path").get<std::string>();
    s.cgroup_ancestor = doc->value("cgroup_ancestor", "");
    s.namespaces = doc->at("namespaces").get<std::uint64_t>();
    s.annotations = doc->at("annotations").get<std::map<std::string, std::string>>();
    s.config = doc->value("config", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw_invalid("container \"{}\": corrupt state: {}", id, e.what());
  }
  return s;
}

void save_state(const std::filesystem::path& root, const State& s) {
  const nlohmann::json doc = {{"id", s.id},
                              {"pid", s.pid},
                              {"start_time", s.start_time},
                              {"bundle", s.bundle.string()},
                              {"rootfs", s.rootfs.string()},
                              {"created", s.created},
                              {"cgroup_path", s.cgroup_path},
                              {"cgroup_ancestor", s.cgroup_ancestor},
                              {"namespaces", s.namespaces},
                              {"annotations", s.annotations},
                              {"config", s.config}};
  save_json(container_dir(root, s.id) / "state.json", doc, Durability::fast);
}

bool process_alive(const State& s) {
  return s.pid > 0 && process_matches(s.pid, s.start_time);
}

std::string status_of(const std::filesystem::path& root, const State& s) {
  if (!process_alive(s)) {
    return "stopped";
  }
  if (std::filesystem::exists(container_dir(root, s.id) / "exec.fifo")) {
    return "created";
  }
  if (cgroup_frozen(s.cgroup_path)) {
    return "paused";
  }
  return "running";
}

nlohmann::json state_json(const State& s, const std::string& status) {
  nlohmann::json doc = {{"ociVersion", "1.1.0"},
                        {"id", s.id},
                        {"status", status},
                        {"pid", status == "stopped" ? 0 : s.pid},
                        {"bundle", s.bundle.string()},
                        {"rootfs", s.rootfs.string()},
                        {"created", s.created},
                        {"owner", ""}};
  doc["annotations"] = s.annotations;
  return doc;
}

UniqueFd open_process(const State& s) {
  if (s.pid <= 0) {
    return {};
  }
  auto fd = sys::try_pidfd_open(s.pid);
  // Checked after opening: the pidfd now pins the process, so a match cannot change later.
  if (!fd || !process_matches(s.pid, s.start_time)) {
    return {};
  }
  return std::move(*fd);
}

}  // namespace gctool::oci
