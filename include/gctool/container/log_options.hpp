// The log driver and its rotation settings, from `--log-driver json-file --log-opt max-size=10m
// --log-opt max-file=3` as Docker takes them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gctool::container {

// Docker's --log-driver. local (the default): CRI records in container.log (see log_format.hpp),
// what gctool has always written; json-file: Docker's json-file format in <id>-json.log, which
// log shippers read; none: nothing is kept, and `logs` refuses.
enum class LogDriver : unsigned char { local, json_file, none };

constexpr std::string_view to_string(LogDriver driver) noexcept {
  return driver == LogDriver::json_file ? "json-file"
         : driver == LogDriver::none    ? "none"
                                        : "local";
}

// "local", "json-file" or "none"; throws an invalid-input Error in Docker's words otherwise.
LogDriver parse_log_driver(std::string_view name);

struct LogOptions {
  LogDriver driver = LogDriver::local;
  // Rotate container.log once a record would take it past this many bytes; 0: never.
  std::int64_t max_size = 0;
  // Files kept, container.log included: 3 keeps container.log, .1 and .2. With 1 the log starts
  // again empty when full.
  int max_files = 1;
};

// Parses "key=value" options: max-size (a size such as "10m", > 0) and max-file (an integer >= 1,
// only with max-size). Throws an invalid-input Error naming the option, e.g.
// `invalid log option "max-file=0": max-file must be at least 1`.
LogOptions parse_log_opts(const std::vector<std::string>& options);

}  // namespace gctool::container
