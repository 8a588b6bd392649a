// The archive's layer tars are packed into unnamed O_TMPFILE files of the store first: a tar
// entry needs its size up front, and nothing is left behind if we fail half way. Packing is
// deterministic, so a layer that came from our own tar (import, commit, a gctool save) packs to
// the same bytes and the image keeps its id.
#include "gctool/image/save.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <fmt/std.h>
#include <nlohmann/json.hpp>

#include "archive_ptr.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/image/pack.hpp"
#include "gctool/image/sha256.hpp"

namespace fsys = std::filesystem;
using nlohmann::json;

namespace gctool::image {
namespace {

void check_archive(archive* a, int rc, std::string_view what) {
  if (rc < ARCHIVE_WARN) {
    throw_invalid("{}: {}", what, archive_error_string(a));
  }
}

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
    auto e = new_archive_entry();
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
  ArchiveEntryPtr header(const std::string& path, std::uint64_t size) {
    auto e = new_archive_entry();
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

  ArchiveWriterPtr writer_;
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
      auto packed = pack_layer(layer_dir, store.root() / "layers");
      const std::string hex = packed.diff_id.substr(7);
      if (written_layers.insert(hex).second) {
        archive.dir(hex + "/");
        archive.file_from(hex + "/layer.tar", packed.file, packed.bytes);
      }
      diff_ids.push_back(packed.diff_id);
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
