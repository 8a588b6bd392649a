#include "gctool/image/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/crash_point.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/stale_temporaries.hpp"
#include "gctool/core/time.hpp"
#include "gctool/image/pack.hpp"
#include "gctool/image/platform.hpp"
#include "gctool/image/sha256.hpp"

namespace fsys = std::filesystem;
using nlohmann::json;

namespace gctool::image {
namespace {

constexpr std::string_view kDigestPrefix = "sha256:";
constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::string_view kConfigSuffix = ".config.json";

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// "sha256:<hex>" -> "<hex>"; throws for anything else, since the hex becomes a file name.
std::string digest_hex(std::string_view digest) {
  if (!digest.starts_with(kDigestPrefix) || digest.size() != kDigestPrefix.size() + 64 ||
      !is_hex(digest.substr(kDigestPrefix.size()))) {
    throw_invalid("invalid digest \"{}\"", digest);
  }
  return std::string(digest.substr(kDigestPrefix.size()));
}

using TagIndex = std::map<std::string, std::string>;  // "name:tag" -> image id

std::vector<std::string> tags_of(const TagIndex& index, std::string_view id) {
  std::vector<std::string> tags;
  for (const auto& [tag, target] : index) {
    if (target == id) {
      tags.push_back(tag);
    }
  }
  return tags;
}

std::optional<Reference> try_parse_reference(std::string_view text) {
  try {
    return parse_reference(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// The epoch when the configuration's time cannot be read: a wrong age in `image ls` is no reason
// to fail.
std::chrono::system_clock::time_point created_time(const std::string& text) {
  try {
    return parse_rfc3339(text);
  } catch (const Error&) {
    return {};
  }
}

// Removes a directory tree by first renaming it to a temporary name, so that nobody ever sees
// it half removed under its real name; a crash leaves only a temp the next sweep removes.
void remove_tree(const fsys::path& dir) {
  const fsys::path doomed =
      dir.parent_path() / fmt::format("{}rm-{}", kTempPrefix, short_id(random_id()));
  std::error_code ec;
  fsys::rename(dir, doomed, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return;
    }
    throw Error(ec.value(), fmt::format("remove {}", dir));
  }
  fsys::remove_all(doomed, ec);
  if (ec) {
    throw Error(ec.value(), fmt::format("remove {}", doomed));
  }
}

}  // namespace

void PendingLayer::discard() noexcept {
  if (!dir_.empty()) {
    std::error_code ec;
    fsys::remove_all(dir_, ec);
    dir_.clear();
  }
  lock_.reset();
}

ImageStore::ImageStore(fsys::path root) : root_(fsys::absolute(root)) {}

fsys::path ImageStore::layer_dir(std::string_view diff_id) const {
  return layers_dir() / digest_hex(diff_id);
}

fsys::path ImageStore::record_path(std::string_view id) const {
  return images_dir() / (digest_hex(id) + ".json");
}

FileLock ImageStore::lock_exclusive() const {
  prepare_dirs();
  return FileLock::exclusive(root_ / "images.lock");
}

FileLock ImageStore::lock_shared() const {
  prepare_dirs();
  return FileLock::shared(root_ / "images.lock");
}

void ImageStore::prepare_dirs() const {
  for (const auto& dir : {images_dir(), layers_dir()}) {
    std::error_code ec;
    fsys::create_directories(dir, ec);
    if (ec) {
      throw Error(ec.value(), fmt::format("create {}", dir));
    }
  }
}

namespace {

TagIndex load_index(const fsys::path& path) {
  TagIndex index;
  if (auto j = try_load_json(path)) {
    if (auto it = j->find("Tags"); it != j->end() && it->is_object()) {
      index = it->get<TagIndex>();
    }
  }
  return index;
}

void save_index(const fsys::path& path, const TagIndex& index) {
  save_json(path, json{{"Tags", index}});
}

}  // namespace

std::optional<Image> ImageStore::load_record(std::string_view id,
                                             const std::vector<std::string>& tags) const {
  auto j = try_load_json(record_path(id));
  if (!j) {
    return std::nullopt;
  }
  try {
    Image image;
    image.id = j->at("Id").get<std::string>();
    image.repo_tags = tags;
    for (const auto& layer : j->at("Layers")) {
      image.diff_ids.push_back(layer.at("DiffId").get<std::string>());
      image.layer_dirs.push_back(layer_dir(image.diff_ids.back()));
    }
    image.config = j->value("Config", json::object()).get<ImageConfig>();
    image.created = j->value("Created", "");
    image.created_time = created_time(image.created);
    image.size = j->value("Size", std::uint64_t{0});
    return image;
  } catch (const json::exception& e) {
    throw_invalid("corrupt image record {}: {}", record_path(id), e.what());
  }
}

std::optional<Image> ImageStore::try_resolve(std::string_view ref) const {
  const TagIndex index = load_index(index_path());
  const auto by_id = [&](const std::string& id) { return load_record(id, tags_of(index, id)); };
  std::string_view hex = ref;
  if (hex.starts_with(kDigestPrefix)) {
    hex.remove_prefix(kDigestPrefix.size());
  }
  if (hex.size() == 64 && is_hex(hex)) {
    return by_id(fmt::format("{}{}", kDigestPrefix, hex));
  }
  if (auto parsed = try_parse_reference(ref)) {
    if (auto it = index.find(parsed->str()); it != index.end()) {
      return by_id(it->second);
    }
  }
  if (hex.empty() || !is_hex(hex)) {
    return std::nullopt;
  }
  // A short id: the only case that lists the directory.
  std::optional<std::string> match;
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator(images_dir(), ec)) {
    const std::string name = entry.path().filename();
    if (name.size() == 64 + 5 && name.ends_with(".json") && name.starts_with(hex)) {
      if (match) {
        throw_invalid("image id prefix \"{}\" is ambiguous", ref);
      }
      match = fmt::format("{}{}", kDigestPrefix, name.substr(0, 64));
    }
  }
  return match ? by_id(*match) : std::nullopt;
}

Image ImageStore::resolve(std::string_view ref) const {
  if (auto image = try_resolve(ref)) {
    return std::move(*image);
  }
  throw_invalid("no such image: {}", ref);
}

std::vector<Image> ImageStore::list() const {
  // `image ls` is where a user looks after a killed commit or load: remove what it left, unless
  // the store is busy (or this process holds the lock: changes sweep first on their own).
  if (fsys::exists(root_ / "images.lock")) {
    if (const auto lock = FileLock::try_exclusive(root_ / "images.lock")) {
      sweep_stale_temps();
    }
  }
  const TagIndex index = load_index(index_path());
  std::vector<Image> images;
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator(images_dir(), ec)) {
    const std::string name = entry.path().filename();
    if (name.size() != 64 + 5 || !name.ends_with(".json") || !is_hex(name.substr(0, 64))) {
      continue;
    }
    const std::string id = fmt::format("{}{}", kDigestPrefix, name.substr(0, 64));
    if (auto image = load_record(id, tags_of(index, id))) {
      images.push_back(std::move(*image));
    }
  }
  std::sort(images.begin(), images.end(), [](const Image& a, const Image& b) {
    return a.created_time != b.created_time ? a.created_time > b.created_time : a.id < b.id;
  });
  return images;
}

void ImageStore::sweep_stale_temps() const {
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator(layers_dir(), ec)) {
    if (!entry.path().filename().string().starts_with(kTempPrefix)) {
      continue;
    }
    UniqueFd fd(::open(entry.path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      std::error_code ignored;
      fsys::remove_all(entry.path(), ignored);
    }
  }
  // What a commit() killed midway left: it moves the layers into place, then writes each image's
  // configuration and record, all under the exclusive lock that the caller holds now. So a
  // layer no record uses, or a configuration without its record, is garbage.
  remove_stale_temporaries(images_dir());
  std::set<std::string> used;
  for (const auto& image : list()) {
    for (const auto& diff_id : image.diff_ids) {
      used.insert(digest_hex(diff_id));
    }
  }
  std::vector<fsys::path> orphans;
  for (const auto& entry : fsys::directory_iterator(layers_dir(), ec)) {
    const std::string name = entry.path().filename();
    if (name.size() == 64 && is_hex(name) && !used.contains(name)) {
      orphans.push_back(entry.path());
    }
  }
  for (const auto& dir : orphans) {
    try {
      remove_tree(dir);
    } catch (const Error&) {
      // Tried again by the next change.
    }
  }
  for (const auto& entry : fsys::directory_iterator(images_dir(), ec)) {
    const std::string name = entry.path().filename();
    if (name.size() == 64 + kConfigSuffix.size() && name.ends_with(kConfigSuffix) &&
        !fsys::exists(images_dir() / (name.substr(0, 64) + ".json"))) {
      fsys::remove(entry.path(), ec);
    }
  }
}

PendingLayer ImageStore::extract(const ByteSource& source, const ExtractLimits& limits) const {
  PendingLayer pending;
  {
    // Under the shared lock, so a sweep (exclusive) cannot take the new directory for stale
    // between its creation and its flock.
    const FileLock lock = lock_shared();
    std::string tmpl = (layers_dir() / fmt::format("{}XXXXXX", kTempPrefix)).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw_errno("create temporary layer directory in {}", layers_dir());
    }
    pending.dir_ = tmpl;
    pending.lock_ = UniqueFd(::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!pending.lock_) {
      throw_errno("open {}", pending.dir_);
    }
    check(::flock(pending.lock_.get(), LOCK_EX), "lock {}", pending.dir_);
  }
  // mkdtemp makes 0700; the layer root becomes the container's "/" unless the archive says.
  check(::fchmod(pending.lock_.get(), 0755), "chmod {}", pending.dir_);
  pending.info_ = extract_layer(source, pending.lock_, limits);
  return pending;
}

std::vector<Image> ImageStore::commit(std::vector<PendingLayer> pending,
                                      const std::vector<NewImage>& images) {
  const FileLock lock = lock_exclusive();
  sweep_stale_temps();
  std::map<std::string, std::uint64_t> layer_sizes;
  for (auto& layer : pending) {
    const fsys::path target = layer_dir(layer.info_.diff_id);
    layer_sizes[layer.info_.diff_id] = layer.info_.size;
    if (fsys::exists(target)) {
      continue;  // the same content is there already; the destructor drops this copy
    }
    std::error_code ec;
    fsys::rename(layer.dir_, target, ec);
    if (ec) {
      throw Error(ec.value(), fmt::format("move layer {} to {}", layer.dir_, target));
    }
    layer.dir_.clear();
  }
  crash_point("image-commit:layer");
  TagIndex index = load_index(index_path());
  std::vector<std::string> ids;
  for (const auto& image : images) {
    const std::string id = sha256_digest(image.config_json);
    json config;
    try {
      config = json::parse(image.config_json);
    } catch (const json::exception& e) {
      throw_invalid("invalid image configuration: {}", e.what());
    }
    json layers = json::array();
    std::uint64_t size = 0;
    for (const auto& diff_id : image.diff_ids) {
      if (!fsys::is_directory(layer_dir(diff_id))) {
        throw_invalid("layer {} of image {} is missing from the store", diff_id, id);
      }
      if (!layer_sizes.contains(diff_id)) {
        layer_sizes[diff_id] = stored_layer_size(diff_id);
      }
      const std::uint64_t layer_size = layer_sizes[diff_id];
      layers.push_back({{"DiffId", diff_id}, {"Size", layer_size}});
      size += layer_size;
    }
    const fsys::path config_path = images_dir() / (digest_hex(id) + std::string(kConfigSuffix));
    write_file_atomic(config_path, image.config_json);
    save_json(record_path(id), json{{"Id", id},
                                    {"Created", config.value("created", "")},
                                    {"Size", size},
                                    {"Layers", layers},
                                    {"Config", config.value("config", json::object())}});
    for (const auto& tag : image.tags) {
      index[tag.str()] = id;
    }
    ids.push_back(id);
  }
  save_index(index_path(), index);
  std::vector<Image> out;
  for (const auto& id : ids) {
    out.push_back(*load_record(id, tags_of(index, id)));
  }
  return out;
}

std::uint64_t ImageStore::stored_layer_size(std::string_view diff_id) const {
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator(images_dir(), ec)) {
    const std::string name = entry.path().filename();
    if (name.size() != 64 + 5 || !name.ends_with(".json")) {
      continue;
    }
    const auto record = try_load_json(entry.path());
    if (!record || !record->is_object() || !record->contains("Layers")) {
      continue;
    }
    for (const auto& layer : (*record)["Layers"]) {
      if (layer.is_object() && layer.value("DiffId", "") == diff_id) {
        return layer.value("Size", std::uint64_t{0});
      }
    }
  }
  return 0;
}

Image ImageStore::import_rootfs(const ByteSource& source, const std::optional<Reference>& tag,
                                const ImageConfig& config, const ExtractLimits& limits) {
  PendingLayer layer = extract(source, limits);
  // The layer is known by the tar gctool packs of it rather than the tar it came in, so that the
  // image keeps its id through `image save` and `image load`.
  layer.info_.diff_id = layer_diff_id(layer.path());
  const std::string created = format_rfc3339_nano(std::chrono::system_clock::now());
  const json image_config = {
      {"architecture", host_architecture()},
      {"os", "linux"},
      {"created", created},
      {"config", config},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.info().diff_id}}}},
      {"history", {{{"created", created}, {"created_by", "gctool image import"}}}}};
  NewImage image{image_config.dump(), {layer.info().diff_id}, {}};
  if (tag) {
    image.tags.push_back(*tag);
  }
  std::vector<PendingLayer> pending;
  pending.push_back(std::move(layer));
  return commit(std::move(pending), {image}).front();
}

void ImageStore::remove_unused_layers(const std::vector<std::string>& candidates) const {
  std::set<std::string> used;
  for (const auto& image : list()) {
    used.insert(image.diff_ids.begin(), image.diff_ids.end());
  }
  for (const auto& diff_id : candidates) {
    if (!used.contains(diff_id)) {
      remove_tree(layer_dir(diff_id));
    }
  }
}

RemoveResult ImageStore::remove(std::string_view ref, bool force, const ImageUsers& users) {
  const FileLock lock = lock_exclusive();
  sweep_stale_temps();
  const Image image = resolve(ref);
  TagIndex index = load_index(index_path());
  RemoveResult result;
  const auto parsed = try_parse_reference(ref);
  const bool by_tag = parsed && index.contains(parsed->str());
  if (by_tag && image.repo_tags.size() > 1) {
    index.erase(parsed->str());
    save_index(index_path(), index);
    result.untagged.push_back(parsed->str());
    return result;
  }
  if (!by_tag && image.repo_tags.size() > 1 && !force) {
    throw_invalid(
        "conflict: unable to delete {} (must be forced) - image is referenced in multiple "
        "repositories",
        image.short_id());
  }
  if (const auto used_by = force ? std::vector<std::string>() : users(image.id); !used_by.empty()) {
    throw_invalid("conflict: unable to remove {} (must force) - image {} is used by container {}",
                  ref, image.short_id(), short_id(used_by.front()));
  }
  for (const auto& tag : image.repo_tags) {
    index.erase(tag);
    result.untagged.push_back(tag);
  }
  save_index(index_path(), index);
  const std::string hex = digest_hex(image.id);
  for (const auto& path :
       {record_path(image.id), images_dir() / (hex + std::string(kConfigSuffix))}) {
    std::error_code ec;
    if (!fsys::remove(path, ec) && ec) {
      throw Error(ec.value(), fmt::format("remove {}", path));
    }
  }
  result.deleted.push_back(image.id);
  remove_unused_layers(image.diff_ids);
  return result;
}

Image ImageStore::tag(std::string_view source, std::string_view target) {
  const Reference ref = parse_reference(target);
  const FileLock lock = lock_exclusive();
  const Image image = resolve(source);
  TagIndex index = load_index(index_path());
  // A tag that already names the image is not written again (and synced): an unchanged
  // rebuild tags its cached result this way.
  if (std::exchange(index[ref.str()], image.id) != image.id) {
    save_index(index_path(), index);
  }
  return *load_record(image.id, tags_of(index, image.id));
}

std::string ImageStore::config_json(const Image& image) const {
  return read_file(images_dir() / (digest_hex(image.id) + std::string(kConfigSuffix)));
}

}  // namespace gctool::image
