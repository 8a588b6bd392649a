// Docker's tables (ps, network ls, volume ls): left-aligned columns three spaces apart, as its
// tabwriter prints them.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace gctool::tool {

// Display width of UTF-8 text: code points, so that "…" counts once.
inline std::size_t display_width(const std::string& text) {
  std::size_t n = 0;
  for (const unsigned char c : text) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

// Prints rows (the first one the header); the last column is not padded.
inline void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - display_width(row[i]) + 3, ' ');
      }
    }
    fmt::print("{}\n", line);
  }
}

}  // namespace gctool::tool
