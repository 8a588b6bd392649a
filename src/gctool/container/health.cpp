#include "gctool/container/health.hpp"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/time.hpp"

namespace gctool::container {
namespace {

std::int64_t duration_flag(const std::optional<std::string>& value, std::string_view flag) {
  if (!value) {
    return 0;
  }
  if (value->starts_with('-')) {
    throw_invalid("{} cannot be negative", flag);
  }
  std::chrono::nanoseconds parsed{};
  try {
    parsed = parse_duration(*value);
  } catch (const Error&) {
    throw_invalid("invalid argument \"{}\" for \"{}\" flag: time: invalid duration", *value, flag);
  }
  // Docker's daemon: 0 is the default, anything else at least 1ms.
  if (parsed.count() != 0 && parsed < std::chrono::milliseconds(1)) {
    throw_invalid("{} cannot be less than 1ms", flag);
  }
  return parsed.count();
}

}  // namespace

bool health_enabled(const std::optional<image::Healthcheck>& check) noexcept {
  return check && !check->test.empty() && check->test.front() != "NONE";
}

std::vector<std::string> health_command(const image::Healthcheck& check) {
  if (check.test.size() >= 2 && check.test.front() == "CMD-SHELL") {
    return {"/bin/sh", "-c", check.test[1]};
  }
  if (check.test.size() >= 2 && check.test.front() == "CMD") {
    return {check.test.begin() + 1, check.test.end()};
  }
  return {};
}

void check_health_flags(const HealthFlags& flags) {
  if (flags.none && (flags.cmd || flags.interval || flags.timeout || flags.start_period ||
                     flags.start_interval || flags.retries)) {
    throw_invalid("--no-healthcheck conflicts with --health-* options");
  }
  duration_flag(flags.interval, "--health-interval");
  duration_flag(flags.timeout, "--health-timeout");
  duration_flag(flags.start_period, "--health-start-period");
  duration_flag(flags.start_interval, "--health-start-interval");
  if (flags.retries && *flags.retries < 0) {
    throw_invalid("--health-retries cannot be negative");
  }
}

std::optional<image::Healthcheck> merge_healthcheck(const std::optional<image::Healthcheck>& image,
                                                    const HealthFlags& flags) {
  check_health_flags(flags);
  if (flags.none) {
    image::Healthcheck none;
    none.test = {"NONE"};
    return none;
  }
  auto merged = image.value_or(image::Healthcheck{});
  if (flags.cmd) {
    merged.test = {"CMD-SHELL", *flags.cmd};
  }
  if (const auto v = duration_flag(flags.interval, "--health-interval"); v != 0) {
    merged.interval = v;
  }
  if (const auto v = duration_flag(flags.timeout, "--health-timeout"); v != 0) {
    merged.timeout = v;
  }
  if (const auto v = duration_flag(flags.start_period, "--health-start-period"); v != 0) {
    merged.start_period = v;
  }
  if (const auto v = duration_flag(flags.start_interval, "--health-start-interval"); v != 0) {
    merged.start_interval = v;
  }
  if (flags.retries && *flags.retries != 0) {
    merged.retries = *flags.retries;
  }
  if (merged == image::Healthcheck{}) {
    return std::nullopt;
  }
  return merged;
}

HealthSettings health_settings(const image::Healthcheck& check) {
  HealthSettings settings;
  if (check.interval > 0) {
    settings.interval = std::chrono::nanoseconds(check.interval);
  }
  if (check.timeout > 0) {
    settings.timeout = std::chrono::nanoseconds(check.timeout);
  }
  settings.start_period = std::chrono::nanoseconds(check.start_period);
  if (check.start_interval > 0) {
    settings.start_interval = std::chrono::nanoseconds(check.start_interval);
  }
  if (check.retries > 0) {
    settings.retries = check.retries;
  }
  return settings;
}

std::filesystem::path health_state_path(const std::filesystem::path& container_dir) {
  return container_dir / "health.json";
}

HealthState::HealthState(const HealthSettings& settings,
                         std::chrono::steady_clock::time_point started)
    : settings_(settings), started_(started) {}

void HealthState::record(HealthResult result, std::chrono::steady_clock::time_point now) {
  if (result.exit_code == 0) {
    failing_streak_ = 0;
    status_ = "healthy";
  } else if (status_ != "starting" || now - started_ >= settings_.start_period) {
    // As Docker: while starting, failures within the start period do not count.
    if (++failing_streak_ >= settings_.retries) {
      status_ = "unhealthy";
    }
  }
  if (result.output.size() > kHealthOutputLimit) {
    result.output.resize(kHealthOutputLimit);
  }
  log_.push_back(std::move(result));
  while (log_.size() > kHealthLogEntries) {
    log_.pop_front();
  }
}

std::chrono::nanoseconds HealthState::next_interval(
    std::chrono::steady_clock::time_point now) const {
  if (status_ == "starting" && now - started_ < settings_.start_period) {
    return settings_.start_interval;
  }
  return settings_.interval;
}

std::string HealthState::to_json() const {
  nlohmann::json log = nlohmann::json::array();
  for (const auto& r : log_) {
    log.push_back(
        {{"Start", r.start}, {"End", r.end}, {"ExitCode", r.exit_code}, {"Output", r.output}});
  }
  const nlohmann::json state = {
      {"Status", status_}, {"FailingStreak", failing_streak_}, {"Log", log}};
  // The output is the check's bytes: what is not UTF-8 becomes U+FFFD rather than an error.
  return state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void HealthState::save(const std::filesystem::path& path) const {
  auto temporary = path;
  temporary += ".tmp";
  write_file(temporary, to_json() + "\n");
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    throw_errno("rename {} to {}", temporary.string(), path.string());
  }
}

std::string read_health_status(const std::filesystem::path& container_dir) {
  const auto text = try_read_file(health_state_path(container_dir));
  if (text) {
    const auto json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_object() && json.contains("Status") && json["Status"].is_string()) {
      return json["Status"].get<std::string>();
    }
  }
  return "starting";
}

std::string health_timeout_message(std::chrono::nanoseconds timeout) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(timeout).count();
  std::string text;
  if (ms < 1000) {
    text = fmt::format("{}ms", ms);
  } else if (ms % 1000 == 0 && ms < 60'000) {
    text = fmt::format("{}s", ms / 1000);
  } else if (ms < 60'000) {
    text = fmt::format("{}s", static_cast<double>(ms) / 1000.0);
  } else {
    const auto s = ms / 1000;
    text = s >= 3600 ? fmt::format("{}h{}m{}s", s / 3600, s % 3600 / 60, s % 60)
                     : fmt::format("{}m{}s", s / 60, s % 60);
  }
  return fmt::format("Health check exceeded timeout ({})", text);
}

}  // namespace gctool::container
