// Log rotation settings, from `--log-opt max-size=10m --log-opt max-file=3` as Docker's json-file
// driver takes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gctool::container {

struct LogOptions {
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
