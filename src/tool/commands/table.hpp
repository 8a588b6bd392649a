// Docker's tables (ps, images, network ls, volume ls): its tabwriter (minimum cell width 10,
// padding 3, cells ending in a tab aligned, the last cell of a line not padded).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace gctool::tool {

// Display width of UTF-8 text: code points, so that "…" counts once.
inline std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  for (const unsigned char c : text) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

// Aligns the tab-separated cells of text as Go's tabwriter.NewWriter(w, min_width, 1, 3, ' ', 0)
// (`docker top` uses a minimum of 20).
inline std::string tabwrite(std::string_view text, std::size_t min_width = 10) {
  std::vector<std::vector<std::string_view>> lines;
  std::vector<std::size_t> widths;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto& cells = lines.emplace_back();
    for (auto tab = line.find('\t'); tab != std::string_view::npos; tab = line.find('\t')) {
      cells.push_back(line.substr(0, tab));
      line.remove_prefix(tab + 1);
      widths.resize(std::max(widths.size(), cells.size()));
      widths[cells.size() - 1] =
          std::max(widths[cells.size() - 1],
                   std::max<std::size_t>(display_width(cells.back()) + 3, min_width));
    }
    cells.push_back(line);
  }
  std::string out;
  for (const auto& cells : lines) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) {
        out.append(widths[i] - display_width(cells[i]), ' ');
      }
    }
    out += '\n';
  }
  return out;
}

// Prints rows (the first one the header).
inline void print_table(const std::vector<std::vector<std::string>>& rows,
                        std::size_t min_width = 10) {
  std::string text;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      text += row[i] + (i + 1 < row.size() ? "\t" : "\n");
    }
  }
  fmt::print("{}", tabwrite(text, min_width));
}

}  // namespace gctool::tool
