// A reference to an image in a registry, by Docker's rules: "busybox" is
// docker.io/library/busybox:latest; a first component with a '.' or ':', or "localhost", names the
// registry host; "@sha256:<hex>" pins the content.
#pragma once

#include <string>
#include <string_view>

#include "gctool/image/reference.hpp"

namespace gctool::registry {

struct RemoteReference {
  std::string domain;      // "docker.io", "localhost:5000", "reg.example.com"
  std::string repository;  // "library/busybox", "team/app"
  std::string tag;         // empty only when a digest alone was given
  std::string digest;      // "sha256:<64 hex>" or empty

  // The name the store keeps and `image ls` shows: "busybox", "localhost:5000/team/app".
  std::string familiar_name() const {
    return image::detail::familiar_name(domain + "/" + repository);
  }
  // "docker.io/library/busybox:latest", "localhost:5000/app@sha256:...": what `pull` prints last.
  std::string full() const {
    return domain + "/" + repository + (tag.empty() ? "" : ":" + tag) +
           (digest.empty() ? "" : "@" + digest);
  }
  // The tag or digest to ask the registry for.
  const std::string& version() const { return digest.empty() ? tag : digest; }
  // Where the distribution API of the domain answers.
  std::string api_host() const { return domain == "docker.io" ? "registry-1.docker.io" : domain; }
};

// True for "sha256:" followed by 64 lower-case hex digits, the only digest gctool accepts.
inline bool is_sha256_digest(std::string_view digest) {
  return digest.size() == 71 && digest.starts_with("sha256:") &&
         digest.find_first_not_of("0123456789abcdef", 7) == digest.npos;
}

// Parses NAME[:TAG][@DIGEST]; throws the invalid-input Error "invalid reference format: ..." for
// anything Docker's grammar refuses.
inline RemoteReference parse_remote_reference(std::string_view text) {
  std::string_view name_tag = text;
  std::string digest;
  if (const auto at = text.find('@'); at != text.npos) {
    digest = std::string(text.substr(at + 1));
    name_tag = text.substr(0, at);
    if (!is_sha256_digest(digest)) {
      throw_invalid("invalid reference format: \"{}\" (digests are sha256:<64 hex digits>)", text);
    }
  }
  // The name is checked by image's grammar; a digest-only reference has no tag of its own.
  const image::Reference parsed = image::parse_reference(name_tag.empty() ? text : name_tag);
  const bool tagged =
      name_tag.rfind(':') != name_tag.npos &&
      (name_tag.rfind('/') == name_tag.npos || name_tag.rfind(':') > name_tag.rfind('/'));
  RemoteReference ref;
  ref.digest = std::move(digest);
  ref.tag = ref.digest.empty() || tagged ? parsed.tag : "";
  const std::string_view name = parsed.name;
  const auto slash = name.find('/');
  const auto first = name.substr(0, slash == name.npos ? 0 : slash);
  if (slash != name.npos && (first.find_first_of(".:") != first.npos || first == "localhost")) {
    ref.domain = std::string(first);
    ref.repository = std::string(name.substr(slash + 1));
  } else {
    ref.domain = std::string(image::detail::kDefaultDomain);
    ref.repository = slash == name.npos ? "library/" + std::string(name) : std::string(name);
  }
  return ref;
}

}  // namespace gctool::registry
