// Reading docker-archive and OCI image layouts. A tar input is first unpacked (by the same
// confined extractor as layers) into a temporary directory of the store; files inside are then
// opened with openat2(RESOLVE_IN_ROOT), so a symlink in the archive cannot make us read host files.
#include "gctool/image/load.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/std.h>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/image/platform.hpp"
#include "gctool/image/sha256.hpp"

namespace fsys = std::filesystem;
using nlohmann::json;

namespace gctool::image {
namespace {

constexpr std::size_t kMaxMetadataBytes = 16 << 20;  // manifests, indexes, configurations
constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";
constexpr std::string_view kContainerdNameAnnotation = "io.containerd.image.name";

UniqueFd open_in(BorrowedFd dir, const std::string& path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof how)));
  if (!fd) {
    throw_errno("open \"{}\" in image archive", path);
  }
  return fd;
}

bool exists_in(BorrowedFd dir, const std::string& path) {
  try {
    open_in(dir, path);
    return true;
  } catch (const Error& e) {
    if (e.errno_value() == ENOENT) {
      return false;
    }
    throw;
  }
}

std::string read_in(BorrowedFd dir, const std::string& path) {
  const UniqueFd fd = open_in(dir, path);
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw_errno("read \"{}\" in image archive", path);
    }
    if (n == 0) {
      return data;
    }
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > kMaxMetadataBytes) {
      throw_invalid("\"{}\" in image archive is larger than {} bytes", path, kMaxMetadataBytes);
    }
  }
}

json parse(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_invalid("invalid JSON in \"{}\" of image archive: {}", what, e.what());
  }
}

// "sha256:<hex>" -> "blobs/sha256/<hex>", refusing anything that is not such a digest.
std::string blob_path(const std::string& digest) {
  constexpr std::string_view prefix = "sha256:";
  const bool ok = digest.starts_with(prefix) && digest.size() == prefix.size() + 64 &&
                  digest.find_first_not_of("0123456789abcdef", prefix.size()) == std::string::npos;
  if (!ok) {
    throw_invalid("unsupported digest \"{}\" in image archive", digest);
  }
  return "blobs/sha256/" + digest.substr(prefix.size());
}

// source, reporting the bytes read through report (if any): once at the start, as data arrives,
// and at the end.
ByteSource with_progress(ByteSource source, LoadProgress progress,
                         const std::function<void(const LoadProgress&)>& report) {
  if (!report) {
    return source;
  }
  report(progress);
  return [source = std::move(source), progress, &report](std::span<std::byte> buf) mutable {
    const std::size_t n = source(buf);
    progress.bytes += n;
    report(progress);
    return n;
  };
}

class Loader {
 public:
  Loader(ImageStore& store, BorrowedFd dir, const LoadOptions& options)
      : store_(store), dir_(dir), options_(options) {}

  std::vector<LoadedImage> run() {
    if (exists_in(dir_, "manifest.json")) {
      docker_archive();
    } else if (exists_in(dir_, "index.json")) {
      descriptor_list(parse(read_in(dir_, "index.json"), "index.json"), std::nullopt);
    } else {
      throw_invalid(
          "not a docker-archive or OCI image layout (no manifest.json or index.json found)");
    }
    if (planned_.empty()) {
      throw_invalid("the archive holds no image for linux/{}", host_architecture());
    }
    extract_layers();
    const auto committed = store_.commit(std::move(pending_), images_);
    std::vector<LoadedImage> out;
    for (std::size_t i = 0; i < committed.size(); ++i) {
      LoadedImage loaded{committed[i].id, {}};
      for (const auto& tag : images_[i].tags) {
        loaded.tags.push_back(tag.str());
      }
      out.push_back(std::move(loaded));
    }
    return out;
  }

 private:
  // [{"Config": "<id>.json", "RepoTags": ["name:tag"], "Layers": ["<id>/layer.tar", ...]}]
  void docker_archive() {
    const json manifest = parse(read_in(dir_, "manifest.json"), "manifest.json");
    if (!manifest.is_array()) {
      throw_invalid("manifest.json of image archive is not a list");
    }
    try {
      for (const auto& entry : manifest) {
        const std::string config_path = entry.at("Config").get<std::string>();
        const std::string config = read_in(dir_, config_path);
        if (config_path.starts_with("blobs/sha256/")) {
          verify(config, "sha256:" + config_path.substr(13), config_path);
        }
        LayerList layers;
        for (const auto& layer : entry.at("Layers")) {
          const std::string path = layer.get<std::string>();
          std::optional<std::string> digest;
          if (path.starts_with("blobs/sha256/")) {
            digest = "sha256:" + path.substr(13);
          }
          layers.emplace_back(path, digest);
        }
        std::vector<Reference> tags;
        if (auto it = entry.find("RepoTags"); it != entry.end() && it->is_array()) {
          for (const auto& tag : *it) {
            tags.push_back(parse_reference(tag.get<std::string>()));
          }
        }
        add_image(config, std::move(layers), std::move(tags));
      }
    } catch (const json::exception& e) {
      throw_invalid("malformed manifest.json in image archive: {}", e.what());
    }
  }

  void descriptor_list(const json& index, const std::optional<std::string>& name) {
    const auto it = index.find("manifests");
    if (it == index.end() || !it->is_array()) {
      throw_invalid("image index without manifests in image archive");
    }
    for (const auto& desc : *it) {
      if (const auto platform = desc.find("platform"); platform != desc.end()) {
        if (platform->value("os", "linux") != "linux" ||
            platform->value("architecture", host_architecture()) != host_architecture()) {
          continue;  // another platform, or an attestation ("unknown/unknown")
        }
      }
      descriptor(desc, name);
    }
  }

  // One descriptor of an OCI index: a nested index or an image manifest.
  void descriptor(const json& desc, std::optional<std::string> name) {
    try {
      if (const auto ann = desc.find("annotations"); ann != desc.end() && ann->is_object()) {
        if (ann->contains(kContainerdNameAnnotation)) {
          name = ann->at(kContainerdNameAnnotation).get<std::string>();
        } else if (ann->contains(kRefNameAnnotation)) {
          const auto ref = ann->at(kRefNameAnnotation).get<std::string>();
          // A bare tag ("latest") names no repository: the image stays unnamed.
          if (ref.find_first_of("/:") != std::string::npos) {
            name = ref;
          }
        }
      }
      const std::string digest = desc.at("digest").get<std::string>();
      const json body = parse(read_blob(digest), blob_path(digest));
      const std::string media_type = body.value("mediaType", desc.value("mediaType", ""));
      if (body.contains("manifests")) {
        descriptor_list(body, name);
        return;
      }
      if (media_type.find("manifest") == std::string::npos && !body.contains("layers")) {
        return;  // not an image (an artifact): nothing to run
      }
      const std::string config = read_blob(body.at("config").at("digest").get<std::string>());
      LayerList layers;
      for (const auto& layer : body.at("layers")) {
        const std::string layer_digest = layer.at("digest").get<std::string>();
        layers.emplace_back(blob_path(layer_digest), layer_digest);
      }
      std::vector<Reference> tags;
      if (name) {
        tags.push_back(parse_reference(*name));
      }
      add_image(config, std::move(layers), std::move(tags));
    } catch (const json::exception& e) {
      throw_invalid("malformed OCI descriptor in image archive: {}", e.what());
    }
  }

  std::string read_blob(const std::string& digest) {
    const std::string path = blob_path(digest);
    std::string data = read_in(dir_, path);
    verify(data, digest, path);
    return data;
  }

  static void verify(const std::string& data, const std::string& digest, const std::string& what) {
    const std::string actual = sha256_digest(data);
    if (actual != digest) {
      throw_invalid("digest mismatch for \"{}\": expected {}, got {}", what, digest, actual);
    }
  }

  using LayerList = std::vector<std::pair<std::string, std::optional<std::string>>>;

  // Every image's layers, each file extracted once (images of one archive often share layers)
  // and checked against its digest and the image's diff_id.
  void extract_layers() {
    std::vector<std::string> paths;
    for (const auto& image : planned_) {
      for (const auto& [path, digest] : image.layers) {
        if (std::find(paths.begin(), paths.end(), path) == paths.end()) {
          paths.push_back(path);
        }
      }
    }
    for (auto& image : planned_) {
      for (std::size_t i = 0; i < image.layers.size(); ++i) {
        const auto& [path, digest] = image.layers[i];
        const std::size_t number =
            static_cast<std::size_t>(std::find(paths.begin(), paths.end(), path) - paths.begin());
        const std::string actual = layer(path, digest, number + 1, paths.size());
        if (actual != image.image.diff_ids[i]) {
          throw_invalid("layer \"{}\" does not match its diff_id: expected {}, got {}", path,
                        image.image.diff_ids[i], actual);
        }
      }
      images_.push_back(std::move(image.image));
    }
  }

  std::string layer(const std::string& path, const std::optional<std::string>& digest,
                    std::size_t number, std::size_t count) {
    if (auto it = extracted_.find(path); it != extracted_.end()) {
      return it->second;
    }
    const UniqueFd fd = open_in(dir_, path);
    struct stat st {};
    check(::fstat(fd.get(), &st), "stat \"{}\" in image archive", path);
    LoadProgress progress{LoadProgress::Step::layer, 0, static_cast<std::uint64_t>(st.st_size),
                          number, count};
    PendingLayer pending =
        store_.extract(with_progress(fd_source(fd), progress, options_.progress), options_.limits);
    if (digest && pending.info().digest != *digest) {
      throw_invalid("digest mismatch for layer \"{}\": expected {}, got {}", path, *digest,
                    pending.info().digest);
    }
    const std::string diff_id = pending.info().diff_id;
    extracted_[path] = diff_id;
    pending_.push_back(std::move(pending));
    return diff_id;
  }

  void add_image(const std::string& config_text, LayerList layers, std::vector<Reference> tags) {
    const json config = parse(config_text, "image configuration");
    std::vector<std::string> diff_ids;
    try {
      diff_ids = config.at("rootfs").at("diff_ids").get<std::vector<std::string>>();
    } catch (const json::exception& e) {
      throw_invalid("image configuration without rootfs.diff_ids: {}", e.what());
    }
    if (diff_ids.size() != layers.size()) {
      throw_invalid("image has {} layers but its configuration lists {} diff_ids", layers.size(),
                    diff_ids.size());
    }
    planned_.push_back(
        {NewImage{config_text, std::move(diff_ids), std::move(tags)}, std::move(layers)});
  }

  struct PlannedImage {
    NewImage image;
    LayerList layers;  // path in the archive, digest when the path names one
  };

  ImageStore& store_;
  BorrowedFd dir_;
  const LoadOptions& options_;
  std::vector<PlannedImage> planned_;
  std::map<std::string, std::string> extracted_;  // layer path -> diff_id
  std::vector<PendingLayer> pending_;
  std::vector<NewImage> images_;
};

}  // namespace

std::vector<LoadedImage> load_archive(ImageStore& store, const ByteSource& source,
                                      const LoadOptions& options) {
  const LoadProgress progress{LoadProgress::Step::archive, 0, options.input_size, 0, 0};
  const PendingLayer unpacked =
      store.extract(with_progress(source, progress, options.progress), options.limits);
  return Loader(store, unpacked.dir_fd(), options).run();
}

std::vector<LoadedImage> load_directory(ImageStore& store, const fsys::path& dir,
                                        const LoadOptions& options) {
  const UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open image directory {}", dir);
  }
  return Loader(store, fd, options).run();
}

}  // namespace gctool::image
