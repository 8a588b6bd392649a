// What the prune verbs share: Docker's confirmation prompt and its "Total reclaimed space" line.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "gctool/container/prune.hpp"
#include "gctool/container/volume.hpp"

namespace gctool::tool {

// True with force; otherwise asks on stderr (stdout stays the list of what was removed) and
// reads the answer: only "y" goes on.
inline bool confirmed(bool force, std::string_view warning) {
  if (force) {
    return true;
  }
  fmt::print(stderr, "WARNING! {}\nAre you sure you want to continue? [y/N] ", warning);
  std::fflush(stderr);
  std::string answer;
  return std::getline(std::cin, answer) && (answer == "y" || answer == "Y");
}

// Docker's units.HumanSize: base 1000, 4 significant digits ("0B", "1.243MB").
inline std::string human_size(std::uint64_t bytes) {
  static constexpr std::string_view units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  auto size = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (size >= 999.95 && unit + 1 < std::size(units)) {
    size /= 1000;
    ++unit;
  }
  return fmt::format("{:.4g}{}", size, units[unit]);
}

// One prune's report, as Docker's RunPrune functions return it: what it removed ("" for
// nothing) and the bytes that freed.
struct PruneReport {
  std::string text;
  std::uint64_t bytes = 0;
};

inline std::string removed_list(std::string_view title, const std::vector<std::string>& items) {
  if (items.empty()) {
    return "";
  }
  std::string text = fmt::format("{}:\n", title);
  for (const auto& item : items) {
    text += item + "\n";
  }
  return text;
}

inline PruneReport report(const container::PrunedContainers& pruned) {
  return {removed_list("Deleted Containers", pruned.ids), pruned.bytes};
}

inline PruneReport report(const container::PrunedImages& pruned) {
  std::vector<std::string> lines;
  for (const auto& tag : pruned.untagged) {
    lines.push_back("untagged: " + tag);
  }
  for (const auto& id : pruned.deleted) {
    lines.push_back("deleted: " + id);
  }
  return {removed_list("Deleted Images", lines), pruned.bytes};
}

inline PruneReport report(const std::vector<container::PrunedVolume>& pruned) {
  std::vector<std::string> names;
  std::uint64_t bytes = 0;
  for (const auto& volume : pruned) {
    names.push_back(volume.name);
    bytes += volume.bytes;
  }
  return {removed_list("Deleted Volumes", names), bytes};
}

// Prints the reports, each followed by an empty line, then the total.
inline void print_reports(const std::vector<PruneReport>& reports) {
  std::uint64_t total = 0;
  for (const auto& r : reports) {
    if (!r.text.empty()) {
      fmt::print("{}\n", r.text);
    }
    total += r.bytes;
  }
  fmt::print("Total reclaimed space: {}\n", human_size(total));
}

}  // namespace gctool::tool
