// Images for tests: the busybox rootfs (built once per build tree by tools/make-busybox-image)
// and a small tar writer for archives made by the tests themselves (layers, hostile archives).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gctool/image/extract.hpp"
#include "test_support.hpp"

namespace gctool::test {

// GCTOOL_BUILD_DIR/busybox.tar, built on first use; a flock keeps parallel test processes from
// building it twice.
inline std::filesystem::path busybox_tarball() {
  const std::filesystem::path tarball = std::filesystem::path(GCTOOL_BUILD_DIR) / "busybox.tar";
  const std::string lock_path = tarball.string() + ".lock";
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
    throw std::runtime_error("cannot lock " + lock_path);
  }
  RunResult built{0, "", ""};
  if (!std::filesystem::exists(tarball)) {
    built = run_program(
        {std::string(GCTOOL_SOURCE_DIR) + "/tools/make-busybox-image", tarball.string()});
  }
  ::close(lock);
  if (built.exit_code != 0) {
    throw std::runtime_error("make-busybox-image failed: " + built.err);
  }
  return tarball;
}

// Imports the busybox rootfs into the data root as name (default tag latest); returns the image
// id ("sha256:...").
inline std::string import_busybox(const std::filesystem::path& root,
                                  const std::string& name = "busybox") {
  const auto result =
      gctool({"--root", root.string(), "image", "import", busybox_tarball().string(), name});
  if (result.exit_code != 0) {
    throw std::runtime_error("gctool image import failed: " + result.err);
  }
  auto id = result.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
    id.pop_back();
  }
  return id;
}

// Writes a tar archive into memory, optionally compressed.
class TarBuilder {
 public:
  enum class Compression { none, gzip, zstd };

  explicit TarBuilder(Compression compression = Compression::none) : archive_(archive_write_new()) {
    archive_write_set_format_pax_restricted(archive_.get());
    if (compression == Compression::gzip) {
      archive_write_add_filter_gzip(archive_.get());
    } else if (compression == Compression::zstd) {
      archive_write_add_filter_zstd(archive_.get());
    }
    archive_write_set_bytes_in_last_block(archive_.get(), 1);
    archive_write_open(archive_.get(), &data_, nullptr, &TarBuilder::write_cb, nullptr);
  }
  // libarchive keeps a pointer to data_.
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;

  TarBuilder& file(const std::string& path, const std::string& content, int mode = 0644,
                   std::int64_t uid = 0, std::int64_t gid = 0) {
    return add(path, AE_IFREG, mode, content, "", "", uid, gid);
  }
  TarBuilder& dir(const std::string& path, int mode = 0755) {
    return add(path, AE_IFDIR, mode, "", "", "");
  }
  TarBuilder& symlink(const std::string& path, const std::string& target) {
    return add(path, AE_IFLNK, 0777, "", target, "");
  }
  TarBuilder& hardlink(const std::string& path, const std::string& target) {
    return add(path, AE_IFREG, 0644, "", "", target);
  }
  TarBuilder& char_device(const std::string& path, unsigned major, unsigned minor) {
    return add(path, AE_IFCHR, 0600, "", "", "", 0, 0, major, minor);
  }

  // The archive bytes; the builder is finished afterwards.
  std::string finish() {
    archive_write_close(archive_.get());
    return data_;
  }

 private:
  struct Deleter {
    void operator()(archive* a) const { archive_write_free(a); }
  };

  static la_ssize_t write_cb(archive*, void* data, const void* buf, size_t n) {
    static_cast<std::string*>(data)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }

  TarBuilder& add(const std::string& path, unsigned type, int mode, const std::string& content,
                  const std::string& symlink_target, const std::string& hardlink_target,
                  std::int64_t uid = 0, std::int64_t gid = 0, unsigned major = 0,
                  unsigned minor = 0) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), static_cast<mode_t>(mode));
    archive_entry_set_uid(e.get(), uid);
    archive_entry_set_gid(e.get(), gid);
    archive_entry_set_mtime(e.get(), 1700000000, 0);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(content.size()));
    if (!symlink_target.empty()) {
      archive_entry_set_symlink(e.get(), symlink_target.c_str());
    }
    if (!hardlink_target.empty()) {
      archive_entry_set_hardlink(e.get(), hardlink_target.c_str());
      archive_entry_set_size(e.get(), 0);
    }
    if (type == AE_IFCHR) {
      archive_entry_set_rdevmajor(e.get(), major);
      archive_entry_set_rdevminor(e.get(), minor);
    }
    if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) {
      throw std::runtime_error(std::string("tar header: ") + archive_error_string(archive_.get()));
    }
    if (!content.empty()) {
      archive_write_data(archive_.get(), content.data(), content.size());
    }
    return *this;
  }

  std::string data_;
  std::unique_ptr<archive, Deleter> archive_;
};

// data compressed with gzip as a stream of its own (an OCI tar+gzip layer of exactly that tar).
inline std::string gzip(const std::string& data) {
  std::string out;
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_raw(a.get());
  archive_write_add_filter_gzip(a.get());
  archive_write_set_bytes_per_block(a.get(), 0);
  archive_write_open(
      a.get(), &out, nullptr,
      [](archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                             archive_entry_free);
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  archive_write_header(a.get(), e.get());
  archive_write_data(a.get(), data.data(), data.size());
  archive_write_close(a.get());
  return out;
}

// A ByteSource over a string, for the library's extraction and import entry points.
inline gctool::image::ByteSource string_source(const std::string& data) {
  auto pos = std::make_shared<std::size_t>(0);
  return [data, pos](std::span<std::byte> buf) {
    const std::size_t n = std::min(buf.size(), data.size() - *pos);
    std::memcpy(buf.data(), data.data() + *pos, n);
    *pos += n;
    return n;
  };
}

// Writes data to path (test fixtures).
inline void write_bytes(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  if (!out) {
    throw std::runtime_error("write " + path.string());
  }
}

// Left-over temporaries of the store: layers/.tmp-* and the atomic writers' .NAME.tmp-* files.
inline std::vector<std::filesystem::path> store_temporaries(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& sub : {root / "layers", root / "images"}) {
    for (const auto& entry : std::filesystem::directory_iterator(sub, ec)) {
      if (entry.path().filename().string().find(".tmp-") != std::string::npos) {
        found.push_back(entry.path());
      }
    }
  }
  return found;
}

}  // namespace gctool::test
