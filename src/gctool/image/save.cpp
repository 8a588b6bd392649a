// The archive's layer tars are packed into unnamed O_TMPFILE files of the store first: a tar
// entry needs its size up front, and nothing is left behind if we fail half way.
#include "gctool/image/save.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <fmt/std.h>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/image/sha256.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gctool::image {
namespace {

struct WriterDeleter {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};
using WriterPtr = std::unique_ptr<archive, WriterDeleter>;
using EntryPtr = std::unique_ptr<archive_entry, void (*)(archive_entry*)>;

EntryPtr new_entry() {
  return EntryPtr(archive_entry_new(), archive_entry_free);
}

void check_archive(archive* a, int rc, std::string_view what) {
  if (rc < ARCHIVE_WARN) {
    throw_invalid("{}: {}", what, archive_error_string(a));
  }
}

std::vector<std::string> sorted_names(BorrowedFd dir) {
  DIR* stream = ::fdopendir(::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0));
  if (stream == nullptr) {
    throw_errno("read layer directory");
  }
  ::rewinddir(stream);
  std::vector<std::string> names;
  while (const dirent* d = ::readdir(stream)) {
    const std::string_view name = d->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

// Packs a layer directory into a tar in an unnamed temporary file, hashing it on the way.
class LayerPacker {
 public:
  explicit LayerPacker(const fs::path& tmp_dir)
      : file_(::open(tmp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)),
        writer_(archive_write_new()) {
    if (!file_) {
      throw_errno("create temporary file in {}", tmp_dir);
    }
    archive_write_set_format_pax_restricted(writer_.get());
    archive_write_set_bytes_in_last_block(writer_.get(), 1);
    check_archive(writer_.get(),
                  archive_write_open(writer_.get(), this, nullptr, &LayerPacker::write_cb, nullptr),
                  "write layer tar");
  }

  // Returns the tar file (at offset 0), its diff_id and length.
  std::tuple<UniqueFd, std::string, std::uint64_t> pack(const fs::path& layer_dir) {
    UniqueFd root(::open(layer_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root) {
      throw_errno("open layer {}", layer_dir);
    }
    directory(root, "");
    check_archive(writer_.get(), archive_write_close(writer_.get()), "write layer tar");
    if (failure_) {
      std::rethrow_exception(failure_);
    }
    check(::lseek(file_.get(), 0, SEEK_SET), "rewind layer tar");
    return {std::move(file_), "sha256:" + hash_.hex(), bytes_};
  }

 private:
  static la_ssize_t write_cb(archive*, void* self_ptr, const void* buf, size_t n) {
    auto* self = static_cast<LayerPacker*>(self_ptr);
    try {
      write_all(self->file_, std::string_view(static_cast<const char*>(buf), n), "layer tar");
      self->hash_.update(std::string_view(static_cast<const char*>(buf), n));
      self->bytes_ += n;
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      self->failure_ = std::current_exception();
      return -1;
    }
  }

  void header(archive_entry* e) {
    if (failure_) {
      std::rethrow_exception(failure_);
    }
    check_archive(writer_.get(), archive_write_header(writer_.get(), e), "write layer tar");
  }

  // An empty regular file: the AUFS form of whiteouts, which every loader understands.
  void marker(const std::string& path, const struct stat& st) {
    auto e = new_entry();
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0);
    archive_entry_set_size(e.get(), 0);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    header(e.get());
  }

  void directory(BorrowedFd dir, const std::string& prefix) {
    for (const auto& name : sorted_names(dir)) {
      struct stat st {};
      check(::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW), "stat {}{}", prefix,
            name);
      const std::string path = prefix + name;
      if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
        marker(prefix + ".wh." + name, st);
        continue;
      }
      if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) &&
          !S_ISFIFO(st.st_mode)) {
        continue;  // what extraction never creates
      }
      auto e = new_entry();
      archive_entry_copy_stat(e.get(), &st);
      archive_entry_set_pathname(e.get(), path.c_str());
      UniqueFd fd;
      if (S_ISLNK(st.st_mode)) {
        std::string target(PATH_MAX, '\0');
        const ssize_t n = check(::readlinkat(dir.get(), name.c_str(), target.data(), target.size()),
                                "read symlink {}", path);
        target.resize(static_cast<std::size_t>(n));
        archive_entry_set_symlink(e.get(), target.c_str());
      } else if (S_ISREG(st.st_mode) && st.st_nlink > 1 &&
                 links_.contains({st.st_dev, st.st_ino})) {
        archive_entry_set_hardlink(e.get(), links_[{st.st_dev, st.st_ino}].c_str());
        archive_entry_set_size(e.get(), 0);
      } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        fd = UniqueFd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) {
          throw_errno("open {}", path);
        }
        if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
          links_[{st.st_dev, st.st_ino}] = path;
        }
        char cap[256];
        const ssize_t n = ::fgetxattr(fd.get(), "security.capability", cap, sizeof cap);
        if (n > 0) {
          archive_entry_xattr_add_entry(e.get(), "security.capability", cap,
                                        static_cast<std::size_t>(n));
        }
      }
      if (S_ISDIR(st.st_mode)) {
        archive_entry_set_pathname(e.get(), (path + "/").c_str());
      }
      header(e.get());
      if (S_ISREG(st.st_mode) && fd) {
        copy_data(fd, path);
      }
      if (S_ISDIR(st.st_mode)) {
        char opaque = 0;
        if (::fgetxattr(fd.get(), "trusted.overlay.opaque", &opaque, 1) == 1 && opaque == 'y') {
          marker(path + "/.wh..wh..opq", st);
        }
        directory(fd, path + "/");
      }
    }
  }

  void copy_data(const UniqueFd& fd, const std::string& path) {
    std::vector<char> buf(1 << 17);
    for (;;) {
      const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      check(n, "read {}", path);
      if (n == 0) {
        return;
      }
      if (archive_write_data(writer_.get(), buf.data(), static_cast<std::size_t>(n)) < 0) {
        if (failure_) {
          std::rethrow_exception(failure_);
        }
        throw_invalid("write layer tar: {}", archive_error_string(writer_.get()));
      }
    }
  }

  UniqueFd file_;
  WriterPtr writer_;
  Sha256 hash_;
  std::uint64_t bytes_ = 0;
  std::exception_ptr failure_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

class ArchiveWriter {
 public:
  explicit ArchiveWriter(BorrowedFd out) : writer_(archive_write_new()) {
    archive_write_set_format_pax_restricted(writer_.get());
    archive_write_set_bytes_in_last_block(writer_.get(), 1);
    check_archive(writer_.get(), archive_write_open_fd(writer_.get(), out.get()),
                  "write image archive");
  }

  void file(const std::string& path, std::string_view data) {
    auto e = header(path, data.size());
    write(data.data(), data.size());
  }

  void file_from(const std::string& path, const UniqueFd& fd, std::uint64_t size) {
    header(path, size);
    std::vector<char> buf(1 << 17);
    for (;;) {
      const ssize_t n = check(::read(fd.get(), buf.data(), buf.size()), "read layer tar");
      if (n == 0) {
        return;
      }
      write(buf.data(), static_cast<std::size_t>(n));
    }
  }

  void dir(const std::string& path) {
    auto e = new_entry();
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), AE_IFDIR);
    archive_entry_set_perm(e.get(), 0755);
    check_archive(writer_.get(), archive_write_header(writer_.get(), e.get()),
                  "write image archive");
  }

  void close() {
    check_archive(writer_.get(), archive_write_close(writer_.get()), "write image archive");
  }

 private:
  EntryPtr header(const std::string& path, std::uint64_t size) {
    auto e = new_entry();
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    check_archive(writer_.get(), archive_write_header(writer_.get(), e.get()),
                  "write image archive");
    return e;
  }

  void write(const char* data, std::size_t size) {
    if (archive_write_data(writer_.get(), data, size) < 0) {
      throw_invalid("write image archive: {}", archive_error_string(writer_.get()));
    }
  }

  WriterPtr writer_;
};

}  // namespace

void save_images(const ImageStore& store, const std::vector<std::string>& refs, BorrowedFd out) {
  ArchiveWriter archive(out);
  json manifest = json::array();
  json repositories = json::object();
  std::set<std::string> written_layers;
  for (const auto& ref : refs) {
    const Image image = store.resolve(ref);
    std::vector<std::string> tags = image.repo_tags;
    try {
      const std::string named = parse_reference(ref).str();
      if (std::find(tags.begin(), tags.end(), named) != tags.end()) {
        tags = {named};
      }
    } catch (const Error&) {
      // an id: every tag
    }
    json config = json::parse(store.config_json(image));
    std::vector<std::string> diff_ids;
    json layer_paths = json::array();
    for (const auto& layer_dir : image.layer_dirs) {
      auto [file, diff_id, size] = LayerPacker(store.root() / "layers").pack(layer_dir);
      const std::string hex = diff_id.substr(7);
      if (written_layers.insert(hex).second) {
        archive.dir(hex + "/");
        archive.file_from(hex + "/layer.tar", file, size);
      }
      diff_ids.push_back(diff_id);
      layer_paths.push_back(hex + "/layer.tar");
    }
    std::string config_text = store.config_json(image);
    if (config["rootfs"]["diff_ids"] != json(diff_ids)) {
      config["rootfs"]["diff_ids"] = diff_ids;
      config_text = config.dump();
    }
    const std::string config_name = sha256_hex(config_text) + ".json";
    archive.file(config_name, config_text);
    manifest.push_back({{"Config", config_name}, {"RepoTags", tags}, {"Layers", layer_paths}});
    for (const auto& tag : tags) {
      const auto parsed = parse_reference(tag);
      repositories[parsed.name][parsed.tag] = sha256_hex(config_text);
    }
  }
  archive.file("manifest.json", manifest.dump());
  archive.file("repositories", repositories.dump());
  archive.close();
}

}  // namespace gctool::image
