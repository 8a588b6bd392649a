// Docker's --format for the list verbs (ps, images, network ls, volume ls): "table" or nothing
// is the default table, "table TEMPLATE" a header row and aligned columns, "json" one object a
// line, anything else a Go template per row; "\t" and "\n" written in the format are a tab and a
// newline, as Docker reads them.
#pragma once

#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gctool/core/json_template.hpp"
#include "table.hpp"

namespace gctool::tool {

struct ListColumns {
  std::string default_table;  // "table {{.ID}}\t{{.Name}}"
  nlohmann::json headers;     // field name -> column header
};

// The whole output, built before anything is printed so that a template failing on any row
// prints nothing; a bad template fails even without rows.
inline std::string render_list(std::string format, const ListColumns& columns,
                               const std::vector<nlohmann::json>& rows) {
  if (format.empty() || format == "table") {
    format = columns.default_table;
  }
  if (format == "json") {
    format = "{{json .}}";
  }
  const bool table = format.starts_with("table");
  if (table) {
    format.erase(0, 5);
  }
  const auto first = format.find_first_not_of(' ');
  format = first == std::string::npos
               ? ""
               : format.substr(first, format.find_last_not_of(' ') - first + 1);
  for (const auto& [from, to] : {std::pair{"\\t", "\t"}, std::pair{"\\n", "\n"}}) {
    for (auto at = format.find(from); at != std::string::npos; at = format.find(from, at + 1)) {
      format.replace(at, 2, to);
    }
  }
  check_template(format);
  std::string text;
  if (table) {
    // The header row: the template over the column names (any other field by its own name).
    auto headers = columns.headers;
    for (const auto& row : rows) {
      for (const auto& [key, value] : row.items()) {
        if (!headers.contains(key)) {
          headers[key] = key;
        }
      }
    }
    text += render_template(format, headers) + "\n";
  }
  for (const auto& row : rows) {
    text += render_template(format, row) + "\n";
  }
  return table ? tabwrite(text) : text;
}

}  // namespace gctool::tool
