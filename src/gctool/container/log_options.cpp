#include "gctool/container/log_options.hpp"

#include <charconv>
#include <string_view>

#include "gctool/core/error.hpp"
#include "gctool/core/units.hpp"

namespace gctool::container {

LogDriver parse_log_driver(std::string_view name) {
  for (const auto driver : {LogDriver::local, LogDriver::json_file, LogDriver::none}) {
    if (to_string(driver) == name) {
      return driver;
    }
  }
  throw_invalid("logger: no log driver named '{}' is registered (local, json-file or none)", name);
}

LogOptions parse_log_opts(const std::vector<std::string>& options) {
  LogOptions result;
  bool max_file_set = false;
  for (const auto& option : options) {
    const auto eq = option.find('=');
    if (eq == std::string::npos) {
      throw_invalid("invalid log option \"{}\": expected key=value", option);
    }
    const std::string_view key = std::string_view(option).substr(0, eq);
    const std::string_view value = std::string_view(option).substr(eq + 1);
    if (key == "max-size") {
      try {
        result.max_size = parse_memory_size(value);
      } catch (const Error& e) {
        throw_invalid("invalid log option \"{}\": {}", option, e.what());
      }
      if (result.max_size <= 0) {
        throw_invalid("invalid log option \"{}\": max-size must be more than 0", option);
      }
    } else if (key == "max-file") {
      int files = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), files);
      if (ec != std::errc{} || end != value.data() + value.size() || value.empty()) {
        throw_invalid("invalid log option \"{}\": max-file must be a number", option);
      }
      if (files < 1) {
        throw_invalid("invalid log option \"{}\": max-file must be at least 1", option);
      }
      result.max_files = files;
      max_file_set = true;
    } else {
      throw_invalid("unknown log option \"{}\" (supported: max-size, max-file)", option);
    }
  }
  if (max_file_set && result.max_files > 1 && result.max_size == 0) {
    throw_invalid("log option max-file needs max-size");
  }
  return result;
}

}  // namespace gctool::container
