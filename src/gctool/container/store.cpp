#include "gctool/container/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <algorithm>
#include <map>
#include <numeric>

#include <fmt/std.h>

#include "gctool/core/crash_point.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_file.hpp"

namespace gctool::container {

namespace fsys = std::filesystem;

namespace {

// A directory being removed: renamed to this prefix and the id first (see remove()).
constexpr std::string_view kRemovingPrefix = ".removing-";

// The fallback of save() on a full disk: the record, compact and padded with spaces (which JSON
// ignores) to the file's size, written over the old one in blocks it already has. Not atomic
// like a rename, but a single page for any usual record, and a torn one is a broken record that
// the store skips and rm -f removes. False when it does not fit in the blocks the file has.
bool overwrite_in_place(const fsys::path& path, const nlohmann::json& value,
                        Durability durability) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return false;
  }
  std::string text = value.dump();
  const auto size = std::max(static_cast<std::size_t>(st.st_size), text.size() + 1);
  if (size > static_cast<std::size_t>(st.st_blocks) * 512) {
    return false;
  }
  text.resize(size - 1, ' ');
  text += '\n';
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n =
        ::pwrite(fd.get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno != EINTR) {
      return false;
    }
    done += n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  return durability != Durability::durable || ::fsync(fd.get()) == 0;
}

}  // namespace

ContainerStore::ContainerStore(fsys::path root, BrokenRecordHandler on_broken)
    : root_(std::move(root)), on_broken_(std::move(on_broken)) {}

fsys::path ContainerStore::dir(std::string_view id) const {
  return containers_dir() / id;
}

fsys::path ContainerStore::config_path(std::string_view id) const {
  return dir(id) / "config.json";
}

FileLock ContainerStore::lock() const {
  std::error_code ec;
  fsys::create_directories(containers_dir(), ec);
  if (ec) {
    throw Error(ec.value(), fmt::format("create {}", containers_dir()));
  }
  return FileLock::exclusive(root_ / "containers.lock");
}

std::optional<FileLock> ContainerStore::lock_if_present() const {
  return FileLock::exclusive_if_present(root_ / "containers.lock");
}

namespace {

// Every name in use (the stored records' and the ones salvaged from broken records) -> its id.
std::map<std::string, std::string> name_holders(ContainerStore::Listing listing) {
  std::map<std::string, std::string> holders;
  for (auto& other : listing.records) {
    holders.emplace(std::move(other.name), std::move(other.id));
  }
  for (auto& other : listing.broken) {
    holders.emplace(std::move(other.identity.name), std::move(other.id));
  }
  return holders;
}

[[noreturn]] void name_in_use(std::string_view name, std::string_view holder) {
  throw_invalid(
      "the container name \"/{}\" is already in use by container \"{}\": remove (or rename) "
      "that container to be able to reuse that name",
      name, holder);
}

}  // namespace

void ContainerStore::create(Record& record, Durability durability, NameConflict on_conflict) const {
  const auto holders = name_holders(scan(Detail::names));
  for (auto taken = holders.find(record.name); taken != holders.end();
       taken = holders.find(record.name)) {
    if (on_conflict == NameConflict::fail) {
      name_in_use(record.name, taken->second);
    }
    record.name = random_name();
    record.spec.name = record.name;
  }
  const fsys::path path = dir(record.id);
  check(::mkdir(path.c_str(), 0700), "create container directory {}", path);
  try {
    save_json(config_path(record.id), to_json(record), durability);
  } catch (...) {
    std::error_code ec;
    fsys::remove_all(path, ec);
    throw;
  }
}

void ContainerStore::rename(std::string_view id, std::string_view name,
                            Durability durability) const {
  auto record = load(id);
  if (!record) {
    throw_invalid("no such container: {}", id);
  }
  const auto holders = name_holders(scan(Detail::names));
  if (const auto taken = holders.find(std::string(name)); taken != holders.end()) {
    name_in_use(name, taken->second);
  }
  record->name = std::string(name);
  record->spec.name = record->name;
  save(*record, durability);
}

bool ContainerStore::save(const Record& record, Durability durability) const {
  std::error_code ec;
  if (!fsys::is_directory(dir(record.id), ec)) {
    return false;
  }
  const auto json = to_json(record);
  try {
    save_json(config_path(record.id), json, durability);
  } catch (const Error& e) {
    const bool full = e.errno_value() == ENOSPC || e.errno_value() == EDQUOT;
    if (!full || !overwrite_in_place(config_path(record.id), json, durability)) {
      throw;
    }
  }
  return true;
}

ContainerStore::Read ContainerStore::read(std::string_view id, Detail detail,
                                          BorrowedFd containers) const {
  std::optional<std::string> text;
  try {
    text = read_text(id, containers);
    if (!text) {
      return {};
    }
    if (detail != Detail::whole) {
      try {
        if (auto record =
                detail == Detail::listing ? record_for_listing(*text) : record_names(*text);
            record.id == id) {
          return {std::move(record), std::nullopt};
        }
      } catch (const std::exception&) {
        // Not what a record of ours looks like: the whole parse below says what is wrong.
      }
    }
    const fsys::path path = config_path(id);
    auto record = record_from_json(parse_json(*text, path));
    if (record.id != id) {
      throw_invalid("{} holds the record of container {}", path, record.id);
    }
    return {std::move(record), std::nullopt};
  } catch (const Error& e) {
    const fsys::path path = config_path(id);
    std::string error = e.what();
    if (error.find(path.string()) == std::string::npos) {
      error = fmt::format("{}: {}", path, error);
    }
    return {std::nullopt,
            BrokenRecord{std::string(id), text ? salvage_identity(*text) : RecordIdentity{},
                         std::move(error)}};
  }
}

std::optional<std::string> ContainerStore::read_text(std::string_view id,
                                                     BorrowedFd containers) const {
  if (!containers) {
    return try_read_file(config_path(id));
  }
  // Relative to the directory: a listing neither builds a path nor has the kernel walk the
  // root's for each record.
  const std::string relative = fmt::format("{}/config.json", id);
  UniqueFd fd(::openat(containers.get(), relative.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw_errno("open {}", config_path(id));
  }
  // One read for a record that fits the buffer (every usual one): a regular file's read comes
  // back short only at its end, and a record ends with its closing brace. Anything else reads on
  // to the end, which the second read of every record found before.
  char buf[16384];
  ssize_t n = 0;
  do {
    n = ::read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    throw_errno("read {}", config_path(id));
  }
  std::string text(buf, static_cast<std::size_t>(n));
  const auto last = text.find_last_not_of(" \n\t\r");
  if (text.size() == sizeof buf || last == std::string::npos || text[last] != '}') {
    text += gctool::detail::read_to_end(fd, [&] { return fmt::format("{}", config_path(id)); });
  }
  return text;
}

void ContainerStore::report(const BrokenRecord& broken) const {
  if (on_broken_ && reported_.insert(broken.id).second) {
    on_broken_(broken);
  }
}

std::optional<Record> ContainerStore::load(std::string_view id) const {
  auto read = this->read(id);
  if (read.broken) {
    throw_invalid("corrupt record of container {}: {}", short_id(id), read.broken->error);
  }
  return std::move(read.record);
}

std::optional<BrokenRecord> ContainerStore::load_broken(std::string_view id) const {
  return read(id).broken;
}

ContainerStore::Listing ContainerStore::scan(Detail detail) const {
  Listing listing;
  const UniqueFd containers(::open(containers_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  // fdopendir owns the descriptor it is given; the records are opened relative to the other.
  DIR* stream = containers ? ::fdopendir(::fcntl(containers.get(), F_DUPFD_CLOEXEC, 0)) : nullptr;
  while (const dirent* entry = stream != nullptr ? ::readdir(stream) : nullptr) {
    const std::string_view id = entry->d_name;
    if (id.starts_with(kRemovingPrefix)) {
      listing.leftovers.push_back(containers_dir() / id);
      continue;
    }
    if (!valid_id(id)) {
      continue;
    }
    auto read = this->read(id, detail, containers);
    if (read.record) {
      listing.records.push_back(std::move(*read.record));
    } else if (read.broken) {
      report(*read.broken);
      listing.broken.push_back(std::move(*read.broken));
    } else {
      // No record: a create killed between the directory and its first record, a removal by an
      // older gctool cut short, or a create under way (without the lock).
      listing.leftovers.push_back(containers_dir() / id);
    }
  }
  if (stream != nullptr) {
    ::closedir(stream);
  }
  // Sorted by position, then moved once: swapping whole records cost as much as reading them.
  std::vector<std::size_t> order(listing.records.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return listing.records[a].created < listing.records[b].created;
  });
  std::vector<Record> sorted;
  sorted.reserve(order.size());
  for (const auto i : order) {
    sorted.push_back(std::move(listing.records[i]));
  }
  listing.records = std::move(sorted);
  return listing;
}

void ContainerStore::remove_leftovers(const Listing& listing) const {
  for (const auto& path : listing.leftovers) {
    ::umount2((path / "shm").c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    std::error_code ignored;
    fsys::remove_all(path, ignored);
  }
}

std::string ContainerStore::resolve(std::string_view ref) const {
  if (ref.empty()) {
    throw_invalid("empty container name or id");
  }
  std::error_code ec;
  if (valid_id(ref) && fsys::exists(config_path(ref), ec)) {
    return std::string(ref);
  }
  const auto listing = scan(Detail::names);
  const std::string_view name = ref.starts_with('/') ? ref.substr(1) : ref;
  for (const auto& r : listing.records) {
    if (r.name == name) {
      return r.id;
    }
  }
  for (const auto& b : listing.broken) {
    if (!b.identity.name.empty() && b.identity.name == name) {
      return b.id;
    }
  }
  std::vector<std::string> matches;
  for (const auto& r : listing.records) {
    if (r.id.starts_with(ref)) {
      matches.push_back(r.id);
    }
  }
  for (const auto& b : listing.broken) {
    if (b.id.starts_with(ref)) {
      matches.push_back(b.id);
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

void ContainerStore::release_host_mounts(std::string_view id) const noexcept {
  // EINVAL: not a mount point, ENOENT: no such directory; either way nothing to do.
  ::umount2(shm_dir(id).c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
}

void ContainerStore::remove(std::string_view id) const {
  erase(detach(id));
}

fsys::path ContainerStore::detach(std::string_view id) const {
  release_host_mounts(id);
  // Renamed away first: a removal cut short leaves no directory without its record under the
  // id, only one under the removing prefix, which the next list() deletes.
  const fsys::path doomed = containers_dir() / fmt::format("{}{}", kRemovingPrefix, id);
  if (::rename(dir(id).c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    throw_errno("rename {} to {}", dir(id), doomed);
  }
  crash_point("container-rm:renamed");
  return doomed;
}

void ContainerStore::erase(const fsys::path& detached) {
  if (detached.empty()) {
    return;
  }
  std::error_code ec;
  fsys::remove_all(detached, ec);
  // A list() that found it may be deleting it at the same time: what it removed first is gone.
  if (ec && ec != std::errc::no_such_file_or_directory) {
    throw Error(ec.value(), fmt::format("remove {}", detached));
  }
}

}  // namespace gctool::container
