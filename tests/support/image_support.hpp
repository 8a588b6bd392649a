// Images for tests: the busybox rootfs (built once per build tree by tools/make-busybox-image)
// and a small tar writer for archives made by the tests themselves (layers, hostile archives).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gctool/image/extract.hpp"
#include "gctool/image/platform.hpp"
#include "gctool/image/sha256.hpp"
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

  // Copies every entry of the tar archive at path whose name keep(name) accepts (names as stored,
  // e.g. "./bin/sh"): a variant of an existing image.
  template <typename Keep>
  TarBuilder& copy_entries(const std::filesystem::path& path, Keep keep) {
    std::unique_ptr<archive, int (*)(archive*)> in(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(in.get());
    if (archive_read_open_filename(in.get(), path.c_str(), 65536) != ARCHIVE_OK) {
      throw std::runtime_error("open " + path.string());
    }
    archive_entry* e = nullptr;
    std::vector<char> buf(65536);
    while (archive_read_next_header(in.get(), &e) == ARCHIVE_OK) {
      if (!keep(std::string(archive_entry_pathname(e)))) {
        continue;
      }
      if (archive_write_header(archive_.get(), e) != ARCHIVE_OK) {
        throw std::runtime_error(std::string("tar header: ") +
                                 archive_error_string(archive_.get()));
      }
      la_ssize_t n = 0;
      while ((n = archive_read_data(in.get(), buf.data(), buf.size())) > 0) {
        archive_write_data(archive_.get(), buf.data(), static_cast<std::size_t>(n));
      }
    }
    return *this;
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

// An image made by a test: plain layer tars (bottom to top) and the "config" object (Cmd, Env,
// ...), written as a docker-archive or as an OCI layout with gzip layers.
struct TestImage {
  std::vector<std::string> layers;
  nlohmann::json config = nlohmann::json::object();

  std::string config_json() const {
    std::vector<std::string> diff_ids;
    for (const auto& layer : layers) {
      diff_ids.push_back(gctool::image::sha256_digest(layer));
    }
    return nlohmann::json{{"architecture", gctool::image::host_architecture()},
                          {"os", "linux"},
                          {"created", "2024-05-06T07:08:09Z"},
                          {"config", config},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}}
        .dump();
  }

  // `docker save` layout: <dir>/layer.tar per layer, <id>.json, manifest.json, repositories.
  std::string docker_archive(const std::string& tag) const {
    const std::string config_text = config_json();
    const std::string config_name = gctool::image::sha256_hex(config_text) + ".json";
    TarBuilder tar;
    nlohmann::json paths = nlohmann::json::array();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::string dir = "l" + std::to_string(i + 1);
      tar.dir(dir).file(dir + "/layer.tar", layers[i]);
      paths.push_back(dir + "/layer.tar");
    }
    const nlohmann::json manifest =
        nlohmann::json::array({{{"Config", config_name}, {"RepoTags", {tag}}, {"Layers", paths}}});
    return tar.file(config_name, config_text)
        .file("manifest.json", manifest.dump())
        .file("repositories", "{}")
        .finish();
  }

  // An OCI layout (path -> content) with gzip layers behind a nested index that also lists an
  // attestation of platform unknown/unknown, as BuildKit writes.
  std::map<std::string, std::string> oci_layout(const std::string& ref_name) const {
    using nlohmann::json;
    std::map<std::string, std::string> files;
    const auto blob = [&](const std::string& data, const std::string& media_type) {
      files["blobs/sha256/" + gctool::image::sha256_hex(data)] = data;
      return json{{"mediaType", media_type},
                  {"digest", gctool::image::sha256_digest(data)},
                  {"size", data.size()}};
    };
    json layer_descs = json::array();
    for (const auto& layer : layers) {
      // The diff_id stays that of the plain tar: compress the very same bytes.
      layer_descs.push_back(blob(gzip(layer), "application/vnd.oci.image.layer.v1.tar+gzip"));
    }
    const std::string manifest_type = "application/vnd.oci.image.manifest.v1+json";
    const json config_desc = blob(config_json(), "application/vnd.oci.image.config.v1+json");
    json manifest = blob(json{{"schemaVersion", 2},
                              {"mediaType", manifest_type},
                              {"config", config_desc},
                              {"layers", layer_descs}}
                             .dump(),
                         manifest_type);
    manifest["platform"] = {{"os", "linux"}, {"architecture", gctool::image::host_architecture()}};
    json attestation = blob(R"({"schemaVersion":2,"layers":[]})", manifest_type);
    attestation["platform"] = {{"os", "unknown"}, {"architecture", "unknown"}};
    const std::string index_type = "application/vnd.oci.image.index.v1+json";
    json nested = blob(
        json{
            {"schemaVersion", 2}, {"mediaType", index_type}, {"manifests", {manifest, attestation}}}
            .dump(),
        index_type);
    nested["annotations"] = {{"org.opencontainers.image.ref.name", ref_name}};
    files["index.json"] = json{{"schemaVersion", 2}, {"manifests", {nested}}}.dump();
    files["oci-layout"] = R"({"imageLayoutVersion":"1.0.0"})";
    return files;
  }
};

// The files of an OCI layout as one tar.
inline std::string tar_of(const std::map<std::string, std::string>& files) {
  TarBuilder tar;
  tar.dir("blobs").dir("blobs/sha256");
  for (const auto& [path, data] : files) {
    tar.file(path, data);
  }
  return tar.finish();
}

// One entry of a tar read by read_tar.
struct TarEntry {
  unsigned type = 0;  // AE_IFREG, AE_IFDIR, AE_IFLNK, ...
  std::string content;
  std::string symlink;
  std::string hardlink;
  unsigned mode = 0;  // permission bits
  std::int64_t uid = 0;
  std::int64_t gid = 0;
};

// The entries of a tar (plain or compressed) by path, "./" and trailing '/' removed.
inline std::map<std::string, TarEntry> read_tar(const std::string& data) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK) {
    throw std::runtime_error(std::string("read tar: ") + archive_error_string(a.get()));
  }
  std::map<std::string, TarEntry> entries;
  archive_entry* e = nullptr;
  int rc = 0;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    std::string path = archive_entry_pathname(e);
    if (path.starts_with("./")) {
      path.erase(0, 2);
    }
    while (!path.empty() && path.back() == '/') {
      path.pop_back();
    }
    TarEntry entry;
    entry.type = archive_entry_filetype(e);
    entry.mode = archive_entry_perm(e);
    entry.uid = archive_entry_uid(e);
    entry.gid = archive_entry_gid(e);
    if (const char* link = archive_entry_symlink(e)) {
      entry.symlink = link;
    }
    if (const char* link = archive_entry_hardlink(e)) {
      entry.hardlink = link;
    }
    char buf[65536];
    la_ssize_t n = 0;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) {
      entry.content.append(buf, static_cast<std::size_t>(n));
    }
    entries[path] = std::move(entry);
  }
  if (rc != ARCHIVE_EOF) {
    throw std::runtime_error(std::string("read tar: ") + archive_error_string(a.get()));
  }
  return entries;
}

// The bytes of a file (test fixtures).
inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Replaces the (forked) process with argv[0] (a path), or exits 127.
[[noreturn]] inline void exec_program(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

// Runs argv with its stdin, stdout and stderr on a new pty; out is what the terminal showed
// (with the pty's "\r\n" line ends).
inline RunResult run_on_terminal(const std::vector<std::string>& argv) {
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) {
    throw std::runtime_error("forkpty failed");
  }
  if (pid == 0) {
    exec_program(argv);
  }
  RunResult result;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) {
      break;  // EIO once the child has closed the terminal
    }
    result.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// argv on a new pty that the test types into and reads from, as a user at a terminal: for
// `run -it` and its detach keys. Killed on destruction if still running.
class TerminalSession {
 public:
  explicit TerminalSession(const std::vector<std::string>& argv) {
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ < 0) {
      throw std::runtime_error("forkpty failed");
    }
    if (pid_ == 0) {
      exec_program(argv);
    }
  }
  TerminalSession(const TerminalSession&) = delete;
  TerminalSession& operator=(const TerminalSession&) = delete;
  ~TerminalSession() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
  }

  void type(const std::string& keys) const {
    if (::write(master_, keys.data(), keys.size()) != static_cast<ssize_t>(keys.size())) {
      throw std::runtime_error("write to the terminal failed");
    }
  }

  // Reads until the screen shows text (true) or the terminal closes or `limit` passes (false).
  bool wait_for(const std::string& text,
                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (screen_.find(text) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      pollfd p{master_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return false;
      }
      char buf[4096];
      const ssize_t n = ::read(master_, buf, sizeof buf);
      if (n <= 0) {
        return false;
      }
      screen_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  // The exit code as a shell reports it, or -1 if it is still running after `limit`.
  int wait_exit(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() > end) {
        return -1;
      }
      wait_for("\x01never\x01", std::chrono::milliseconds(50));  // drain the screen meanwhile
    }
  }

  const std::string& screen() const { return screen_; }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  std::string screen_;
};

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
