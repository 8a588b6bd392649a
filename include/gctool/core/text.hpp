// Small helpers for the line- and field-based text of /proc, /etc and cgroupfs files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gctool {

// The parts of text between separators, empty ones included: split("a::b", ':') gives
// {"a", "", "b"}, split("", ':') gives {""}. The views point into text.
std::vector<std::string_view> split(std::string_view text, char sep);

// True when text holds an ASCII control character (a newline, a tab, NUL, DEL...): what must
// never reach a one-line file (/etc/hosts, /etc/hostname), a listing or an error line.
bool has_control_char(std::string_view text) noexcept;

// text with its control characters escaped (\n, \t, \r, \xNN), for one error line that quotes
// untrusted input.
std::string printable(std::string_view text);

}  // namespace gctool
