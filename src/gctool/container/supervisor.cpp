// The supervisor's rules: restart policy and back-off, and the options kept next to the record.
#include "gctool/container/supervisor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include <nlohmann/json.hpp>

#include "gctool/core/json_file.hpp"

namespace gctool::container {

RestartPolicy parse_restart_policy(std::string_view text) {
  RestartPolicy policy;
  const auto colon = text.find(':');
  const std::string_view mode = text.substr(0, colon);
  if (mode == "no" || mode.empty()) {
    policy.mode = RestartPolicy::Mode::no;
  } else if (mode == "on-failure") {
    policy.mode = RestartPolicy::Mode::on_failure;
  } else if (mode == "always") {
    policy.mode = RestartPolicy::Mode::always;
  } else if (mode == "unless-stopped") {
    policy.mode = RestartPolicy::Mode::unless_stopped;
  } else {
    throw_invalid("invalid restart policy \"{}\"", text);
  }
  if (colon != std::string_view::npos) {
    if (policy.mode != RestartPolicy::Mode::on_failure) {
      throw_invalid(
          "invalid restart policy \"{}\": maximum retry count can only be used with "
          "'on-failure'",
          text);
    }
    const std::string_view count = text.substr(colon + 1);
    const auto [end, ec] =
        std::from_chars(count.data(), count.data() + count.size(), policy.max_retries);
    if (ec != std::errc() || end != count.data() + count.size() || policy.max_retries < 0) {
      throw_invalid("invalid restart policy \"{}\": maximum retry count must be a number >= 0",
                    text);
    }
  }
  return policy;
}

std::string_view to_string(RestartPolicy::Mode mode) noexcept {
  switch (mode) {
    case RestartPolicy::Mode::no:
      return "no";
    case RestartPolicy::Mode::on_failure:
      return "on-failure";
    case RestartPolicy::Mode::always:
      return "always";
    case RestartPolicy::Mode::unless_stopped:
      return "unless-stopped";
  }
  return "no";
}

bool should_restart(const RestartPolicy& policy, int exit_code, int restart_count,
                    bool stopped_by_user) noexcept {
  if (stopped_by_user) {
    return false;
  }
  switch (policy.mode) {
    case RestartPolicy::Mode::no:
      return false;
    case RestartPolicy::Mode::on_failure:
      return exit_code != 0 && (policy.max_retries == 0 || restart_count < policy.max_retries);
    case RestartPolicy::Mode::always:
    case RestartPolicy::Mode::unless_stopped:
      return true;
  }
  return false;
}

std::chrono::milliseconds restart_delay(int restart_count, std::chrono::milliseconds cap) {
  std::chrono::milliseconds delay(100);
  for (int i = 0; i < restart_count && delay < cap; ++i) {
    delay *= 2;
  }
  return std::min(delay, cap);
}

std::filesystem::path stop_request_path(const std::filesystem::path& container_dir) {
  return container_dir / "stop-requested";
}

std::filesystem::path supervisor_options_path(const std::filesystem::path& container_dir) {
  return container_dir / "supervisor.json";
}

namespace {

nlohmann::json to_json(const SupervisorOptions& options) {
  return {
      {"RestartPolicy",
       {{"Name", to_string(options.restart.mode)},
        {"MaximumRetryCount", options.restart.max_retries}}},
      {"LogConfig",
       {{"Type", to_string(options.log.driver)},
        {"MaxSize", options.log.max_size},
        {"MaxFile", options.log.max_files}}},
      {"RestartCount", options.restart_count},
  };
}

}  // namespace

void save_supervisor_options(const std::filesystem::path& container_dir,
                             const SupervisorOptions& options) {
  const auto json = to_json(options);
  const auto path = supervisor_options_path(container_dir);
  // No file is the defaults (load_supervisor_options): a plain `run` then creates one inode
  // fewer, which on a busy ext4 costs more than its write (the allocator skips recently freed
  // inodes one by one).
  if (json == to_json(SupervisorOptions{})) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      throw_errno("remove \"{}\"", path.string());
    }
    return;
  }
  save_json(path, json, Durability::fast);
}

SupervisorOptions load_supervisor_options(const std::filesystem::path& container_dir) {
  SupervisorOptions options;
  const auto json = try_load_json(supervisor_options_path(container_dir));
  if (!json) {
    return options;
  }
  try {
    const auto& restart = json->at("RestartPolicy");
    options.restart = parse_restart_policy(restart.at("Name").get<std::string>());
    options.restart.max_retries = restart.value("MaximumRetryCount", 0);
    const auto& log = json->at("LogConfig");
    options.log.max_size = log.value("MaxSize", std::int64_t{0});
    options.log.max_files = log.value("MaxFile", 1);
    options.log.driver = parse_log_driver(log.value("Type", "local"));
    options.restart_count = json->value("RestartCount", 0);
  } catch (const nlohmann::json::exception& e) {
    throw_invalid("{}: {}", supervisor_options_path(container_dir).string(), e.what());
  }
  return options;
}

}  // namespace gctool::container
