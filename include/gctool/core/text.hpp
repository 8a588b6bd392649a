// Small helpers for the line- and field-based text of /proc, /etc and cgroupfs files, of
// Dockerfiles and of names that compare without case (signals, capabilities). Header-only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace gctool {

// The parts of text between separators, empty ones included: split("a::b", ':') gives
// {"a", "", "b"}, split("", ':') gives {""}. The views point into text.
inline std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto pos = text.find(sep, start);
    parts.push_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) {
      return parts;
    }
    start = pos + 1;
  }
}

// The non-empty components of a slash-separated path, "." and ".." kept as they are:
// path_components("/a//b/../c/") gives {"a", "b", "..", "c"}.
inline std::vector<std::string> path_components(std::string_view path) {
  std::vector<std::string> parts;
  for (const std::string_view part : split(path, '/')) {
    if (!part.empty()) {
      parts.emplace_back(part);
    }
  }
  return parts;
}

// text without the ASCII white space (space, \t, \n, \r, \f, \v) at either end; a view into text.
inline std::string_view trim(std::string_view text) noexcept {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// Equal but for the case of ASCII letters: iequals("sigterm", "SIGTERM").
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

namespace detail {

inline bool is_control(char c) noexcept {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

}  // namespace detail

// True when text holds an ASCII control character (a newline, a tab, NUL, DEL...): what must
// never reach a one-line file (/etc/hosts, /etc/hostname), a listing or an error line.
inline bool has_control_char(std::string_view text) noexcept {
  return std::any_of(text.begin(), text.end(), detail::is_control);
}

// text with its control characters escaped (\n, \t, \r, \xNN), for one error line that quotes
// untrusted input.
inline std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (!detail::is_control(c)) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

// Appends the UTF-8 encoding of a code point (JSON's \u escapes decode through it).
inline void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

}  // namespace gctool
