// The image store under the data root:
//   images.lock                   flock: every change of the store holds it exclusively
//   images/repositories.json      the tag index {"Tags": {"name:tag": "sha256:<id>"}}
//   images/<id-hex>.json          image record: config, layers (diff_ids), size, creation time
//   images/<id-hex>.config.json   the image configuration exactly as hashed into the id
//   layers/<diff_id-hex>/         one extracted layer, shared by every image that has it
//   layers/.tmp-XXXXXX/           layers being extracted (flocked while in use) or removed
// Readers (resolve, list) take no lock: every file is replaced atomically.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gctool/core/file_lock.hpp"
#include "gctool/image/config.hpp"
#include "gctool/image/extract.hpp"
#include "gctool/image/reference.hpp"

namespace gctool::image {

struct Image {
  std::string id;                                 // "sha256:<64 hex>" of the configuration
  std::vector<std::string> repo_tags;             // "name:tag", sorted
  std::vector<std::string> diff_ids;              // bottom to top
  std::vector<std::filesystem::path> layer_dirs;  // bottom to top, absolute
  ImageConfig config;
  std::string created;  // RFC 3339, as in the configuration
  std::chrono::system_clock::time_point created_time;
  std::uint64_t size = 0;  // bytes of file content in all layers

  // The 12 hex digits `image ls` shows.
  std::string short_id() const { return id.substr(id.find(':') + 1, 12); }
};

// A layer extracted into a temporary directory of the store, not yet part of it. Removed on
// destruction unless a commit moved it into place.
class PendingLayer {
 public:
  PendingLayer(PendingLayer&& other) noexcept
      : dir_(std::exchange(other.dir_, {})),
        lock_(std::move(other.lock_)),
        info_(std::move(other.info_)) {}
  PendingLayer& operator=(PendingLayer&& other) noexcept {
    if (this != &other) {
      discard();
      dir_ = std::exchange(other.dir_, {});
      lock_ = std::move(other.lock_);
      info_ = std::move(other.info_);
    }
    return *this;
  }
  PendingLayer(const PendingLayer&) = delete;
  PendingLayer& operator=(const PendingLayer&) = delete;
  ~PendingLayer() { discard(); }

  const ExtractedLayer& info() const { return info_; }
  // The temporary directory and an fd of it (an unpacked archive is read through it).
  const std::filesystem::path& path() const { return dir_; }
  BorrowedFd dir_fd() const { return lock_.borrow(); }

 private:
  friend class ImageStore;
  PendingLayer() = default;
  void discard() noexcept;

  std::filesystem::path dir_;
  UniqueFd lock_;  // flock on the directory: a stale-temp sweep leaves it alone while held
  ExtractedLayer info_;
};

// What remove() did, in Docker's words: "Untagged: x", "Deleted: sha256:...".
struct RemoveResult {
  std::vector<std::string> untagged;
  std::vector<std::string> deleted;
};

// An image to commit: its configuration (the bytes that are hashed into its id), its layers
// bottom to top and the tags that should point at it.
struct NewImage {
  std::string config_json;
  std::vector<std::string> diff_ids;
  std::vector<Reference> tags;
};

// The ids of the containers that use image `id` ("sha256:..."). The store lies below the container
// layer and does not read container records: whoever removes images asks the container layer
// (container::image_users in container/prune.hpp).
using ImageUsers = std::function<std::vector<std::string>(std::string_view id)>;

class ImageStore {
 public:
  // root is the data root (the store lives in its images/ and layers/); it need not exist yet.
  explicit ImageStore(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path layer_dir(std::string_view diff_id) const;

  // The image named by ref: "name", "name:tag", a full id ("sha256:<hex>" or "<hex>") or a
  // unique id prefix. Reads the tag index and one record. Throws the invalid-input Error
  // "no such image: <ref>"; try_resolve returns nullopt instead.
  Image resolve(std::string_view ref) const;
  std::optional<Image> try_resolve(std::string_view ref) const;

  // Every image, newest first. First removes what changes cut short by a crash left (temporary
  // layers, layers and configurations whose image record was never written, temporary files),
  // unless another process holds the store lock at the moment; changes do the same first.
  std::vector<Image> list() const;

  // Held by whoever must keep layers from being removed while using them (a container start
  // mounting them): store changes wait until it is released.
  FileLock lock_shared() const;

  // Extracts a layer stream into a temporary directory of the store without taking the store
  // lock; commit() moves it into place.
  PendingLayer extract(const ByteSource& source, const ExtractLimits& limits = {}) const;

  // Moves pending layers into layers/ (or drops them when the store has them already), writes
  // the image records and points the tags at them, all under the store lock. Every diff_id of
  // every image must be in pending or already in the store. Returns the images as stored.
  std::vector<Image> commit(std::vector<PendingLayer> pending, const std::vector<NewImage>& images);

  // A rootfs tarball as a one-layer image ("gctool image import"). The layer's diff_id is that of
  // the tar pack_layer makes of it (not of the tarball as given), so save and load keep the id.
  Image import_rootfs(const ByteSource& source, const std::optional<Reference>& tag,
                      const ImageConfig& config = {}, const ExtractLimits& limits = {});

  // Docker's `rmi`: a tag reference only untags unless it was the image's last tag; an id
  // removes the image with all its tags. Refuses an image `users` names containers of (and an id
  // with several tags) unless force. Layers no remaining image uses are removed.
  RemoveResult remove(std::string_view ref, bool force, const ImageUsers& users);

  // Points target ("name[:tag]") at the image source names.
  Image tag(std::string_view source, std::string_view target);

  // The raw configuration of an image (for save).
  std::string config_json(const Image& image) const;

 private:
  std::filesystem::path images_dir() const { return root_ / "images"; }
  std::filesystem::path layers_dir() const { return root_ / "layers"; }
  std::filesystem::path index_path() const { return images_dir() / "repositories.json"; }
  std::filesystem::path record_path(std::string_view id) const;
  FileLock lock_exclusive() const;
  void prepare_dirs() const;
  void sweep_stale_temps() const;
  std::optional<Image> load_record(std::string_view id, const std::vector<std::string>& tags) const;
  void remove_unused_layers(const std::vector<std::string>& candidates) const;
  // The size of a layer the store has, as recorded by an image that uses it (0 if none does).
  std::uint64_t stored_layer_size(std::string_view diff_id) const;

  std::filesystem::path root_;
};

}  // namespace gctool::image
