// What every inspect verb prints: a JSON array of the objects found, or with --format each
// object through the template on a line of its own. Refs not found are reported after the
// output and make the exit code 1, as Docker does.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "gctool/core/json_template.hpp"

namespace gctool::tool {

struct InspectOutput {
  std::vector<nlohmann::json> found;
  std::vector<std::string> errors;
};

inline void print_inspect(const InspectOutput& result, const std::optional<std::string>& format,
                          Globals& globals) {
  if (format && !format->empty()) {
    std::string text;
    for (const auto& object : result.found) {
      text += render_template(*format, object) + "\n";
    }
    fmt::print("{}", text);
  } else {
    fmt::print("{}\n", nlohmann::json(result.found).dump(4));
  }
  std::fflush(stdout);
  for (const auto& error : result.errors) {
    print_error(error);
  }
  if (!result.errors.empty()) {
    globals.exit_code = 1;
  }
}

}  // namespace gctool::tool
