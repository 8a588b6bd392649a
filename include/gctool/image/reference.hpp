// Image references: "name[:tag]" as users type them ("busybox", "localhost:5000/bb:1.36").
#pragma once

#include <string>
#include <string_view>

#include "gctool/core/error.hpp"

namespace gctool::image {

struct Reference {
  std::string name;
  std::string tag;

  // "name:tag", the key of the tag index.
  std::string str() const { return name + ":" + tag; }
  bool operator==(const Reference&) const = default;
};

inline constexpr std::string_view kDefaultTag = "latest";

namespace detail {

inline bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == '/' || c == ':';
}

inline bool is_tag_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace detail

// Splits "name[:tag]"; a colon before the last '/' belongs to a registry port, not a tag. Throws
// an invalid-input Error for names Docker would refuse (upper case, spaces, empty parts).
inline Reference parse_reference(std::string_view text) {
  const auto fail = [&]() -> Reference { throw_invalid("invalid reference format: \"{}\"", text); };
  if (text.empty() || text.size() > 255) {
    return fail();
  }
  std::string_view name = text;
  std::string_view tag = kDefaultTag;
  const auto colon = text.rfind(':');
  const auto slash = text.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    name = text.substr(0, colon);
    tag = text.substr(colon + 1);
  }
  if (name.empty() || tag.empty() || tag.size() > 128 || name.front() == '/' ||
      name.back() == '/' || name.find("//") != std::string_view::npos) {
    return fail();
  }
  for (char c : name) {
    if (!detail::is_name_char(c)) {
      return fail();
    }
  }
  for (char c : tag) {
    if (!detail::is_tag_char(c)) {
      return fail();
    }
  }
  if (tag.front() == '.' || tag.front() == '-') {
    return fail();
  }
  return Reference{std::string(name), std::string(tag)};
}

}  // namespace gctool::image
