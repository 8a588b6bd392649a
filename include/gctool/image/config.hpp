// What an image says about how to run it: the "config" object of a Docker/OCI image configuration.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gctool::image {

// Docker's HEALTHCHECK: Test is ["NONE"], ["CMD", arg...] or ["CMD-SHELL", command]; the
// durations are nanoseconds, 0 meaning Docker's default (see container/health.hpp).
struct Healthcheck {
  std::vector<std::string> test;
  std::int64_t interval = 0;
  std::int64_t timeout = 0;
  std::int64_t start_period = 0;
  std::int64_t start_interval = 0;  // Docker 25+
  int retries = 0;
  bool operator==(const Healthcheck&) const = default;
};

inline void to_json(nlohmann::json& j, const Healthcheck& h) {
  j = {{"Test", h.test}};
  for (const auto& [key, value] :
       {std::pair{"Interval", h.interval}, std::pair{"Timeout", h.timeout},
        std::pair{"StartPeriod", h.start_period}, std::pair{"StartInterval", h.start_interval}}) {
    if (value != 0) {
      j[key] = value;
    }
  }
  if (h.retries != 0) {
    j["Retries"] = h.retries;
  }
}

// Lenient, as the rest of the config: a field of the wrong type is left at 0.
inline void from_json(const nlohmann::json& j, Healthcheck& h) {
  h = Healthcheck{};
  if (!j.is_object()) {
    return;
  }
  if (auto it = j.find("Test"); it != j.end() && it->is_array()) {
    for (const auto& word : *it) {
      if (word.is_string()) {
        h.test.push_back(word.get<std::string>());
      }
    }
  }
  const auto number = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  };
  h.interval = number("Interval");
  h.timeout = number("Timeout");
  h.start_period = number("StartPeriod");
  h.start_interval = number("StartInterval");
  h.retries = static_cast<int>(number("Retries"));
}

struct ImageConfig {
  std::vector<std::string> cmd;
  std::vector<std::string> entrypoint;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::optional<Healthcheck> healthcheck;

  bool operator==(const ImageConfig&) const = default;
};

// Docker's field names (Cmd, Entrypoint, Env, WorkingDir, User, StopSignal, Labels, ExposedPorts as
// an object of empty objects), so the object can be written into an image configuration as is.
inline void to_json(nlohmann::json& j, const ImageConfig& c) {
  j = nlohmann::json::object();
  if (!c.cmd.empty()) {
    j["Cmd"] = c.cmd;
  }
  if (!c.entrypoint.empty()) {
    j["Entrypoint"] = c.entrypoint;
  }
  if (!c.env.empty()) {
    j["Env"] = c.env;
  }
  if (!c.working_dir.empty()) {
    j["WorkingDir"] = c.working_dir;
  }
  if (!c.user.empty()) {
    j["User"] = c.user;
  }
  if (!c.stop_signal.empty()) {
    j["StopSignal"] = c.stop_signal;
  }
  if (!c.labels.empty()) {
    j["Labels"] = c.labels;
  }
  if (c.healthcheck) {
    j["Healthcheck"] = *c.healthcheck;
  }
  if (!c.exposed_ports.empty()) {
    auto& ports = j["ExposedPorts"] = nlohmann::json::object();
    for (const auto& port : c.exposed_ports) {
      ports[port] = nlohmann::json::object();
    }
  }
}

// Lenient reader: absent or null fields stay empty (images in the wild write null for "none").
inline void from_json(const nlohmann::json& j, ImageConfig& c) {
  c = ImageConfig{};
  if (!j.is_object()) {
    return;
  }
  const auto strings = [&](const char* key) {
    std::vector<std::string> out;
    if (auto it = j.find(key); it != j.end() && it->is_array()) {
      out = it->get<std::vector<std::string>>();
    } else if (it != j.end() && it->is_string()) {
      out.push_back(it->get<std::string>());
    }
    return out;
  };
  const auto string = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  c.cmd = strings("Cmd");
  c.entrypoint = strings("Entrypoint");
  c.env = strings("Env");
  c.working_dir = string("WorkingDir");
  c.user = string("User");
  c.stop_signal = string("StopSignal");
  if (auto it = j.find("Labels"); it != j.end() && it->is_object()) {
    c.labels = it->get<std::map<std::string, std::string>>();
  }
  if (auto it = j.find("ExposedPorts"); it != j.end() && it->is_object()) {
    for (const auto& [port, unused] : it->items()) {
      c.exposed_ports.push_back(port);
    }
  }
  if (auto it = j.find("Healthcheck"); it != j.end() && it->is_object()) {
    c.healthcheck = it->get<Healthcheck>();
  }
}

}  // namespace gctool::image
