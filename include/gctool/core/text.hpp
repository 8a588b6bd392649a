// Small helpers for the line- and field-based text of /proc, /etc and cgroupfs files.
#pragma once

#include <string_view>
#include <vector>

namespace gctool {

// The parts of text between separators, empty ones included: split("a::b", ':') gives
// {"a", "", "b"}, split("", ':') gives {""}. The views point into text.
std::vector<std::string_view> split(std::string_view text, char sep);

}  // namespace gctool
