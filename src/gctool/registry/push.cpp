#include "gctool/registry/push.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/extract.hpp"
#include "gctool/image/pack.hpp"
#include "gctool/image/sha256.hpp"

using nlohmann::json;

namespace gctool::registry {
namespace {

struct Blob {
  UniqueFd file;
  std::string digest;
  std::uint64_t size = 0;
};

// The tar in from compressed with gzip into an unnamed temporary file in dir.
Blob gzip_file(BorrowedFd in, std::uint64_t bytes, const std::filesystem::path& dir) {
  Blob blob;
  blob.file = UniqueFd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!blob.file) {
    throw_errno("create temporary file in {}", dir);
  }
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_raw(a.get());
  archive_write_add_filter_gzip(a.get());
  // No time in the gzip header: the same layer compresses to the same blob on every push.
  archive_write_set_options(a.get(), "gzip:!timestamp");
  archive_write_set_bytes_per_block(a.get(), 0);
  if (archive_write_open_fd(a.get(), blob.file.get()) != ARCHIVE_OK) {
    throw_invalid("compress layer: {}", archive_error_string(a.get()));
  }
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                             archive_entry_free);
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(bytes));
  archive_write_header(a.get(), e.get());
  std::vector<char> buf(1 << 17);
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(in.get(), buf.data(), buf.size(), offset);
    if (n < 0) {
      throw_errno("read packed layer");
    }
    if (n == 0) {
      break;
    }
    offset += n;
    if (archive_write_data(a.get(), buf.data(), static_cast<std::size_t>(n)) < 0) {
      throw_invalid("compress layer: {}", archive_error_string(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    throw_invalid("compress layer: {}", archive_error_string(a.get()));
  }
  check(::lseek(blob.file.get(), 0, SEEK_SET), "seek");
  const auto d = image::digest_stream(image::fd_source(blob.file));
  blob.digest = d.digest;
  blob.size = d.bytes;
  return blob;
}

class Pusher {
 public:
  Pusher(const image::ImageStore& store, const RemoteReference& ref, const PushOptions& options)
      : store_(store), ref_(ref), options_(options), client_(ref, options.client, "pull,push") {}

  PushResult run() {
    if (ref_.tag.empty()) {
      throw_invalid("push {}: a tag is needed, not a digest", ref_.full());
    }
    const image::Image image = store_.resolve(ref_.familiar_name() + ":" + ref_.tag);
    json layers = json::array();
    for (std::size_t i = 0; i < image.diff_ids.size(); ++i) {
      const auto packed = image::pack_layer(image.layer_dirs[i], store_.root() / "layers");
      if (packed.diff_id != image.diff_ids[i]) {
        throw_invalid("push {}: layer {} packs to {}", ref_.full(), image.diff_ids[i],
                      packed.diff_id);
      }
      Blob blob = gzip_file(packed.file, packed.bytes, store_.root() / "layers");
      upload(blob);
      layers.push_back({{"mediaType", "application/vnd.docker.image.rootfs.diff.tar.gzip"},
                        {"size", blob.size},
                        {"digest", blob.digest}});
    }
    const std::string config = store_.config_json(image);
    Blob config_blob;
    config_blob.digest = image::sha256_digest(config);
    config_blob.size = config.size();
    upload(config_blob, &config);
    const std::string manifest = json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
        {"config",
         {{"mediaType", "application/vnd.docker.container.image.v1+json"},
          {"size", config_blob.size},
          {"digest", config_blob.digest}}},
        {"layers", layers}}.dump(3);
    HttpRequest put = client_.request("PUT", "manifests/" + ref_.tag);
    put.body = manifest;
    put.headers.push_back("Content-Type: application/vnd.docker.distribution.manifest.v2+json");
    const HttpResponse res = client_.perform(put);
    if (res.status != 201 && res.status != 200) {
      throw_invalid("push {}: put manifest: {}", ref_.full(), Client::describe(res));
    }
    return PushResult{image::sha256_digest(manifest), manifest.size()};
  }

 private:
  void report(const std::string& digest, const std::string& status) {
    if (options_.progress) {
      options_.progress(digest.substr(7, 12), status);
    }
  }

  // HEAD, then POST an upload and PUT the blob in one request (a file or text).
  void upload(const Blob& blob, const std::string* text = nullptr) {
    HttpRequest head = client_.request("HEAD", "blobs/" + blob.digest);
    if (client_.perform(head).status == 200) {
      if (text == nullptr) {
        report(blob.digest, "Layer already exists");
      }
      return;
    }
    if (text == nullptr) {
      report(blob.digest, "Pushing");
    }
    HttpRequest post = client_.request("POST", "blobs/uploads/");
    const HttpResponse started = client_.perform(post);
    std::string location = started.header("location");
    if (started.status != 202 || location.empty()) {
      throw_invalid("push {}: start upload: {}", ref_.full(), Client::describe(started));
    }
    if (location.find("://") == std::string::npos) {
      const auto base = client_.base_url();
      location = base.substr(0, base.find('/', base.find("://") + 3)) + location;
    }
    location += location.find('?') == std::string::npos ? '?' : '&';
    location += "digest=";
    location += blob.digest;
    HttpRequest put = client_.request("PUT", location);
    put.headers.push_back("Content-Type: application/octet-stream");
    if (text != nullptr) {
      put.body = *text;
    } else {
      put.upload_fd = blob.file.get();
      put.upload_size = blob.size;
    }
    const HttpResponse done = client_.perform(put);
    if (done.status != 201) {
      throw_invalid("push {}: upload blob {}: {}", ref_.full(), blob.digest,
                    Client::describe(done));
    }
    if (text == nullptr) {
      report(blob.digest, "Pushed");
    }
  }

  const image::ImageStore& store_;
  const RemoteReference& ref_;
  const PushOptions& options_;
  Client client_;
};

}  // namespace

PushResult push(const image::ImageStore& store, const RemoteReference& ref,
                const PushOptions& options) {
  return Pusher(store, ref, options).run();
}

}  // namespace gctool::registry
