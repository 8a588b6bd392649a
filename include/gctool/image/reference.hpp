// Image references: "name[:tag]" as users type them ("busybox", "localhost:5000/bb:1.36"), kept
// in Docker's familiar form: "docker.io/library/busybox" is stored and shown as "busybox".
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

inline bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

inline bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

inline bool is_tag_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '-';
}

// A path component: runs of [a-z0-9] joined by one separator each: ".", "_", "__" or any number
// of "-". So no "..", no leading or trailing separator, no upper case.
inline bool is_path_component(std::string_view part) {
  if (part.empty() || !is_lower_alnum(part.front()) || !is_lower_alnum(part.back())) {
    return false;
  }
  for (std::size_t i = 0; i < part.size();) {
    if (is_lower_alnum(part[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < part.size() && !is_lower_alnum(part[j])) {
      ++j;
    }
    const auto sep = part.substr(i, j - i);
    if (sep != "." && sep != "_" && sep != "__" && sep.find_first_not_of('-') != sep.npos) {
      return false;
    }
    i = j;
  }
  return true;
}

// A registry host: dot-separated [a-zA-Z0-9] runs that may hold inner '-', or a bracketed IPv6
// address; then an optional ":port".
inline bool is_domain(std::string_view domain) {
  std::string_view host = domain;
  if (const auto colon = domain.rfind(':');
      colon != domain.npos && domain.find(']', colon) == domain.npos) {
    const auto port = domain.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != port.npos) {
      return false;
    }
    host = domain.substr(0, colon);
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2).find_first_not_of("0123456789abcdefABCDEF:") ==
           host.npos;
  }
  std::size_t start = 0;
  while (true) {
    const auto dot = host.find('.', start);
    const auto label = host.substr(start, dot == host.npos ? host.npos : dot - start);
    if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!is_alnum(c) && c != '-') {
        return false;
      }
    }
    if (dot == host.npos) {
      return true;
    }
    start = dot + 1;
  }
}

// Docker's reference grammar for the name: [domain/]component[/component...], where the first
// part is a domain when it holds '.' or ':' or is "localhost" and there is more than one part.
inline bool is_reference_name(std::string_view name) {
  std::size_t start = 0;
  if (const auto slash = name.find('/'); slash != name.npos) {
    const auto first = name.substr(0, slash);
    if (first.find_first_of(".:") != first.npos || first == "localhost") {
      if (!is_domain(first)) {
        return false;
      }
      start = slash + 1;
    }
  }
  while (true) {
    const auto slash = name.find('/', start);
    if (!is_path_component(name.substr(start, slash == name.npos ? name.npos : slash - start))) {
      return false;
    }
    if (slash == name.npos) {
      return true;
    }
    start = slash + 1;
  }
}

// Docker's default registry and its aliases; images there are named without it, and official
// images ("library/NAME") without that prefix either.
inline constexpr std::string_view kDefaultDomain = "docker.io";

inline std::string familiar_name(std::string_view name) {
  for (const std::string_view domain : {"docker.io/", "index.docker.io/"}) {
    if (name.starts_with(domain)) {
      name.remove_prefix(domain.size());
      if (name.starts_with("library/") && name.find('/', 8) == name.npos) {
        name.remove_prefix(8);
      }
      break;
    }
  }
  return std::string(name);
}

}  // namespace detail

// Splits "name[:tag]"; a colon before the last '/' belongs to a registry port, not a tag. Throws
// an invalid-input Error for what Docker's reference grammar refuses (upper case, spaces, "..",
// empty parts, control characters): a name becomes a listing entry and a tag index key. Names on
// Docker's default registry take their familiar form ("docker.io/library/bb" is "bb").
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
  if (tag.empty() || tag.size() > 128 || (!detail::is_alnum(tag.front()) && tag.front() != '_') ||
      !detail::is_reference_name(name)) {
    return fail();
  }
  for (char c : tag) {
    if (!detail::is_tag_char(c)) {
      return fail();
    }
  }
  return Reference{detail::familiar_name(name), std::string(tag)};
}

}  // namespace gctool::image
