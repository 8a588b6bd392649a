// JSON state files: written atomically, and read back with a clear error when a file is corrupt
// or truncated rather than an exception from the parser's depths.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gctool/core/atomic_file.hpp"
#include "gctool/core/format.hpp"

namespace gctool {

// Parses the file. A missing file throws Error(ENOENT) naming it; unparsable contents throw an
// invalid-input Error: `corrupt JSON file "/x/config.json": parse error at line 1, column 5: ...`.
nlohmann::json load_json(const std::filesystem::path& path);

// As load_json, but nullopt when the file does not exist.
std::optional<nlohmann::json> try_load_json(const std::filesystem::path& path);

// Parses text that came from `path` (used in the error message only).
nlohmann::json parse_json(std::string_view text, const std::filesystem::path& path);

// Writes the value (indented, with a final newline) through write_file_atomic. A string that is
// not valid UTF-8 throws an invalid-input Error naming the path, and the file is left unchanged.
void save_json(const std::filesystem::path& path, const nlohmann::json& value,
               Durability durability = Durability::durable);

}  // namespace gctool
