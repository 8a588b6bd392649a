#include "gctool/core/json_file.hpp"

#include <string>

#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool {

namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] ", which says nothing to a user.
std::string_view without_exception_tag(std::string_view message) {
  if (message.starts_with("[json.exception.")) {
    if (const auto end = message.find("] "); end != std::string_view::npos) {
      message.remove_prefix(end + 2);
    }
  }
  return message;
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::filesystem::path& path) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw_invalid("corrupt JSON file {}: {}", path, without_exception_tag(e.what()));
  }
}

nlohmann::json load_json(const std::filesystem::path& path) {
  return parse_json(read_file(path), path);
}

std::optional<nlohmann::json> try_load_json(const std::filesystem::path& path) {
  std::optional<std::string> text = try_read_file(path);
  if (!text) {
    return std::nullopt;
  }
  return parse_json(*text, path);
}

void save_json(const std::filesystem::path& path, const nlohmann::json& value,
               Durability durability) {
  std::string text;
  try {
    text = value.dump(2);
  } catch (const nlohmann::json::exception& e) {
    throw_invalid("cannot save {}: {}", path, without_exception_tag(e.what()));
  }
  text += '\n';
  write_file_atomic(path, text, durability);
}

}  // namespace gctool
