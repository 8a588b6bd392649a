// Docker's --filter KEY=VALUE for the list verbs: each verb names the keys it knows; values of
// one key are alternatives (any may match), different keys must all match. Name-like keys match
// as Docker's do, by regular expression anywhere in the name.
#pragma once

#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"

namespace gctool::tool {

using Filters = std::multimap<std::string, std::string>;

inline Filters parse_filters(const std::vector<std::string>& args,
                             const std::vector<std::string_view>& keys) {
  Filters filters;
  for (const auto& arg : args) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw_invalid("bad format of filter \"{}\" (expected name=value)", arg);
    }
    const auto key = arg.substr(0, eq);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      throw_invalid("invalid filter '{}'", key);
    }
    filters.emplace(key, arg.substr(eq + 1));
  }
  return filters;
}

inline std::vector<std::string> filter_values(const Filters& filters, const std::string& key) {
  std::vector<std::string> values;
  for (auto [it, end] = filters.equal_range(key); it != end; ++it) {
    values.push_back(it->second);
  }
  return values;
}

// True when the key is absent or any of its values passes `test`.
template <typename Test>
bool filter_accepts(const Filters& filters, const std::string& key, Test test) {
  const auto values = filter_values(filters, key);
  return values.empty() || std::any_of(values.begin(), values.end(), test);
}

// Docker's Args.Match: equal, or the value as a regular expression found in the text.
inline bool filter_match(const std::string& pattern, const std::string& text) {
  if (pattern == text) {
    return true;
  }
  try {
    return std::regex_search(text, std::regex(pattern));
  } catch (const std::regex_error&) {
    return false;
  }
}

// label=KEY or label=KEY=VALUE against a labels object.
inline bool label_matches(const std::string& filter, const nlohmann::json& labels) {
  const auto eq = filter.find('=');
  const auto key = filter.substr(0, eq);
  if (!labels.is_object() || !labels.contains(key)) {
    return false;
  }
  return eq == std::string::npos ||
         (labels[key].is_string() && labels[key].get<std::string>() == filter.substr(eq + 1));
}

// Docker's LABELS column: key=value pairs joined by commas.
inline std::string join_labels(const nlohmann::json& labels) {
  std::string text;
  if (labels.is_object()) {
    for (const auto& [key, value] : labels.items()) {
      text += fmt::format("{}{}={}", text.empty() ? "" : ",", key,
                          value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  return text;
}

}  // namespace gctool::tool
