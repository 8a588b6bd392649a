#include "gctool/container/store.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include <algorithm>
#include <map>

#include <fmt/std.h>

#include "gctool/core/crash_point.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_file.hpp"

namespace gctool::container {

namespace fs = std::filesystem;

namespace {

// A directory being removed: renamed to this prefix and the id first (see remove()).
constexpr std::string_view kRemovingPrefix = ".removing-";

}  // namespace

ContainerStore::ContainerStore(fs::path root) : root_(std::move(root)) {}

fs::path ContainerStore::dir(std::string_view id) const {
  return containers_dir() / id;
}

fs::path ContainerStore::config_path(std::string_view id) const {
  return dir(id) / "config.json";
}

FileLock ContainerStore::lock() const {
  std::error_code ec;
  fs::create_directories(containers_dir(), ec);
  if (ec) {
    throw Error(ec.value(), fmt::format("create {}", containers_dir()));
  }
  return FileLock::exclusive(root_ / "containers.lock");
}

void ContainerStore::create(Record& record, Durability durability, NameConflict on_conflict) const {
  std::map<std::string, std::string> holders;  // name -> id
  for (auto& other : list()) {
    holders.emplace(std::move(other.name), std::move(other.id));
  }
  for (auto taken = holders.find(record.name); taken != holders.end();
       taken = holders.find(record.name)) {
    if (on_conflict == NameConflict::fail) {
      throw_invalid(
          "the container name \"/{}\" is already in use by container \"{}\": remove (or "
          "rename) that container to be able to reuse that name",
          record.name, taken->second);
    }
    record.name = random_name();
    record.spec.name = record.name;
  }
  const fs::path path = dir(record.id);
  check(::mkdir(path.c_str(), 0700), "create container directory {}", path);
  try {
    save_json(config_path(record.id), to_json(record), durability);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(path, ec);
    throw;
  }
}

bool ContainerStore::save(const Record& record, Durability durability) const {
  std::error_code ec;
  if (!fs::is_directory(dir(record.id), ec)) {
    return false;
  }
  save_json(config_path(record.id), to_json(record), durability);
  return true;
}

std::optional<Record> ContainerStore::load(std::string_view id) const {
  auto json = try_load_json(config_path(id));
  if (!json) {
    return std::nullopt;
  }
  return record_from_json(*json);
}

std::vector<Record> ContainerStore::list() const {
  std::vector<Record> records;
  std::vector<fs::path> leftovers;
  std::error_code ec;
  for (fs::directory_iterator it(containers_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string id = it->path().filename().string();
    if (id.starts_with(kRemovingPrefix)) {
      leftovers.push_back(it->path());
      continue;
    }
    if (!valid_id(id)) {
      continue;
    }
    if (auto record = load(id)) {
      records.push_back(std::move(*record));
    } else {
      // No record: a create killed between the directory and its first record, or a removal by
      // an older gctool cut short. Nothing can refer to it, and with the lock held nobody is
      // writing it.
      leftovers.push_back(it->path());
    }
  }
  for (const auto& path : leftovers) {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) { return a.created < b.created; });
  return records;
}

std::string ContainerStore::resolve(std::string_view ref) const {
  if (ref.empty()) {
    throw_invalid("empty container name or id");
  }
  std::error_code ec;
  if (valid_id(ref) && fs::exists(config_path(ref), ec)) {
    return std::string(ref);
  }
  const auto records = list();
  const std::string_view name = ref.starts_with('/') ? ref.substr(1) : ref;
  for (const auto& r : records) {
    if (r.name == name) {
      return r.id;
    }
  }
  std::vector<std::string> matches;
  for (const auto& r : records) {
    if (r.id.starts_with(ref)) {
      matches.push_back(r.id);
    }
  }
  if (matches.size() > 1) {
    throw_invalid("multiple containers match the id prefix \"{}\"", ref);
  }
  if (matches.empty()) {
    throw_invalid("no such container: {}", ref);
  }
  return matches.front();
}

void ContainerStore::remove(std::string_view id) const {
  // Renamed away first: a removal cut short leaves no directory without its record under the
  // id, only one under the removing prefix, which the next list() deletes.
  const fs::path doomed = containers_dir() / fmt::format("{}{}", kRemovingPrefix, id);
  if (::rename(dir(id).c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) {
      return;
    }
    throw_errno("rename {} to {}", dir(id), doomed);
  }
  crash_point("container-rm:renamed");
  std::error_code ec;
  fs::remove_all(doomed, ec);
  if (ec) {
    throw Error(ec.value(), fmt::format("remove {}", doomed));
  }
}

}  // namespace gctool::container
