#include "gctool/build/layers.hpp"

#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <charconv>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace fs = std::filesystem;

namespace gctool::build {
namespace {

std::string join(const std::vector<std::string>& parts, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += i == 0 ? parts[i] : "/" + parts[i];
  }
  return out;
}

bool whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

bool opaque(const fs::path& dir) {
  char value[2] = {};
  return ::lgetxattr(dir.c_str(), "trusted.overlay.opaque", value, sizeof value) == 1 &&
         value[0] == 'y';
}

std::optional<std::uint32_t> number(std::string_view s) {
  std::uint32_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return std::nullopt;
  }
  return v;
}

// Field 2 (the id) and 3 of the /etc/passwd or /etc/group line whose first field is name.
std::optional<std::pair<std::uint32_t, std::uint32_t>> find_entry(const std::string& file,
                                                                  std::string_view name) {
  std::size_t pos = 0;
  while (pos < file.size()) {
    auto nl = file.find('\n', pos);
    if (nl == std::string::npos) {
      nl = file.size();
    }
    std::vector<std::string> fields;
    std::string_view line(file.data() + pos, nl - pos);
    std::size_t f = 0;
    while (true) {
      const auto colon = line.find(':', f);
      fields.emplace_back(line.substr(f, colon == std::string_view::npos ? line.npos : colon - f));
      if (colon == std::string_view::npos) {
        break;
      }
      f = colon + 1;
    }
    if (fields.size() >= 4 && fields[0] == name) {
      const auto id = number(fields[2]);
      const auto second = number(fields[3]);
      if (id) {
        return std::pair{*id, second.value_or(0)};
      }
    }
    pos = nl + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<LayerEntry> lookup_in_layers(const std::vector<fs::path>& layers,
                                           std::string_view rel) {
  const auto parts = path_components(rel);
  if (parts.empty()) {
    if (layers.empty()) {
      return std::nullopt;
    }
    LayerEntry e{layers.back(), {}};
    if (::lstat(e.host.c_str(), &e.st) != 0) {
      return std::nullopt;
    }
    return e;
  }
  for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer) {
    LayerEntry e{*layer / join(parts, parts.size()), {}};
    if (::lstat(e.host.c_str(), &e.st) == 0) {
      if (whiteout(e.st)) {
        return std::nullopt;
      }
      return e;
    }
    // Does something in this layer hide the path in the layers below?
    for (std::size_t n = 1; n < parts.size(); ++n) {
      const fs::path prefix = *layer / join(parts, n);
      struct stat st {};
      if (::lstat(prefix.c_str(), &st) != 0) {
        break;
      }
      if (!S_ISDIR(st.st_mode) || opaque(prefix)) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

std::string resolve_in_layers(const std::vector<fs::path>& layers, std::string_view rel,
                              bool follow_last) {
  std::vector<std::string> todo = path_components(rel);
  std::reverse(todo.begin(), todo.end());
  std::vector<std::string> done;
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part == ".") {
      continue;
    }
    if (part == "..") {
      if (!done.empty()) {
        done.pop_back();
      }
      continue;
    }
    done.push_back(std::move(part));
    if (todo.empty() && !follow_last) {
      break;
    }
    const auto entry = lookup_in_layers(layers, join(done, done.size()));
    if (!entry || !S_ISLNK(entry->st.st_mode) || ++links > 40) {
      continue;
    }
    const std::string target = fs::read_symlink(entry->host).string();
    done.pop_back();
    if (target.starts_with('/')) {
      done.clear();
    }
    const auto more = path_components(target);
    todo.insert(todo.end(), more.rbegin(), more.rend());
  }
  return join(done, done.size());
}

std::optional<std::string> read_in_layers(const std::vector<fs::path>& layers,
                                          std::string_view rel) {
  const auto entry = lookup_in_layers(layers, resolve_in_layers(layers, rel, true));
  if (!entry || !S_ISREG(entry->st.st_mode)) {
    return std::nullopt;
  }
  return read_file(entry->host);
}

std::pair<uid_t, gid_t> resolve_owner(const std::vector<fs::path>& layers, std::string_view spec) {
  const auto colon = spec.find(':');
  const std::string_view user = spec.substr(0, colon);
  const std::string_view group =
      colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  uid_t uid = 0;
  gid_t gid = 0;
  if (const auto n = number(user)) {
    uid = *n;
    gid = *n;
  } else {
    const auto passwd = read_in_layers(layers, "etc/passwd");
    const auto entry = passwd ? find_entry(*passwd, user) : std::nullopt;
    if (!entry) {
      throw_invalid("unable to find user {}: no matching entries in passwd file", user);
    }
    uid = entry->first;
    gid = entry->second;
  }
  if (!group.empty()) {
    if (const auto n = number(group)) {
      gid = *n;
    } else {
      const auto groups = read_in_layers(layers, "etc/group");
      const auto entry = groups ? find_entry(*groups, group) : std::nullopt;
      if (!entry) {
        throw_invalid("unable to find group {}: no matching entries in group file", group);
      }
      gid = entry->first;
    }
  }
  return {uid, gid};
}

}  // namespace gctool::build
