// The downloads run on libcurl's multi loop in the calling thread; each layer's bytes go through a
// socket pair (send with MSG_NOSIGNAL: an extraction that failed early closes its end without a
// SIGPIPE) to a thread that runs the store's extractor on the other end. A full socket pauses that
// transfer alone until the extractor catches up.
#include "gctool/registry/pull.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/platform.hpp"
#include "gctool/image/sha256.hpp"

using nlohmann::json;

namespace gctool::registry {
namespace {

constexpr std::uint64_t kMaxMetadataBytes = 8 << 20;

std::string short_id(std::string_view digest) {
  return std::string(digest.substr(digest.find(':') + 1, 12));
}

struct Manifest {
  std::string body;
  std::string media_type;
  std::string digest;
};

json parse(const std::string& text, std::string_view what, const RemoteReference& ref) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_invalid("{}: malformed {}: {}", ref.full(), what, e.what());
  }
}

// GET manifests/<version>, verified against the digest when the version is one.
Manifest fetch_manifest(Client& client, const std::string& version) {
  const RemoteReference& ref = client.ref();
  HttpRequest req = client.request("GET", "manifests/" + version);
  req.headers.push_back(fmt::format("Accept: {}, {}, {}, {}", kOciIndex, kOciManifest,
                                    kDockerManifestList, kDockerManifest));
  req.max_body = kMaxMetadataBytes;
  const HttpResponse res = client.perform(req);
  if (res.status == 404) {
    throw_invalid("{}: manifest unknown: {} not found in {}", ref.full(), version, ref.domain);
  }
  if (res.status != 200) {
    throw_invalid("{}: fetch manifest: {}", ref.full(), Client::describe(res));
  }
  Manifest m{res.body, res.header("content-type"), image::sha256_digest(res.body)};
  if (is_sha256_digest(version) && m.digest != version) {
    throw_invalid("{}: manifest digest mismatch: expected {}, got {}", ref.full(), version,
                  m.digest);
  }
  const json body = parse(m.body, "manifest", ref);
  if (body.value("schemaVersion", 0) == 1 ||
      m.media_type.find("distribution.manifest.v1") != std::string::npos) {
    throw_invalid(
        "{}: Docker image manifest schema 1 is not supported (deprecated; push the image again "
        "with a current tool)",
        ref.full());
  }
  if (const std::string declared = body.value("mediaType", ""); !declared.empty()) {
    m.media_type = declared;
  } else if (body.contains("manifests")) {
    m.media_type = std::string(kOciIndex);
  } else if (m.media_type.find("json") == std::string::npos ||
             m.media_type.find("manifest") == std::string::npos) {
    m.media_type = std::string(kOciManifest);
  }
  return m;
}

// The first descriptor of the index for the platform: os and architecture must match, and the
// variant when one is asked for.
std::string choose_platform(const json& index, const Platform& want, const RemoteReference& ref) {
  const std::string arch =
      want.architecture.empty() ? image::host_architecture() : want.architecture;
  const json* best = nullptr;
  std::vector<std::string> offered;
  for (const auto& desc : index.at("manifests")) {
    const json platform = desc.value("platform", json::object());
    const std::string os = platform.value("os", "");
    const std::string a = platform.value("architecture", "");
    const std::string v = platform.value("variant", "");
    if (os != "unknown") {
      offered.push_back(os + "/" + a + (v.empty() ? "" : "/" + v));
    }
    if (best == nullptr && os == want.os && a == arch &&
        (want.variant.empty() || v == want.variant)) {
      best = &desc;
    }
  }
  if (best == nullptr) {
    throw_invalid("{}: no image for platform {}/{}{} (the index has: {})", ref.full(), want.os,
                  arch, want.variant.empty() ? "" : "/" + want.variant, fmt::join(offered, ", "));
  }
  return best->at("digest").get<std::string>();
}

std::string fetch_blob(Client& client, const std::string& digest) {
  const RemoteReference& ref = client.ref();
  HttpRequest req = client.request("GET", "blobs/" + digest);
  req.max_body = kMaxMetadataBytes;
  const HttpResponse res = client.perform(req);
  if (res.status != 200) {
    throw_invalid("{}: fetch blob {}: {}", ref.full(), digest, Client::describe(res));
  }
  if (const auto actual = image::sha256_digest(res.body); actual != digest) {
    throw_invalid("{}: digest mismatch for blob {}: got {}", ref.full(), digest, actual);
  }
  return res.body;
}

// A layer being downloaded into its extraction thread.
struct LayerJob {
  std::string digest;
  std::string diff_id;
  std::uint64_t size = 0;
  std::size_t status = 0;  // index in the progress list
  UniqueFd writer;
  std::string pending;  // bytes the socket did not take yet
  std::thread worker;
  std::optional<image::PendingLayer> result;
  std::exception_ptr error;
  std::atomic<bool> finished{false};
  bool aborted = false;
  HttpRequest request;

  ~LayerJob() {
    writer = UniqueFd();  // EOF: a waiting extractor returns
    if (worker.joinable()) {
      worker.join();
    }
  }

  // Sends what the socket takes now; false when bytes are left over.
  bool flush() {
    while (!pending.empty()) {
      const ssize_t n =
          ::send(writer.get(), pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno == EAGAIN) {
          return false;
        }
        throw_errno("send layer data");
      }
      pending.erase(0, static_cast<std::size_t>(n));
    }
    return true;
  }

  // After the download: waits until the extractor took every byte; false if it stopped.
  bool flush_all() {
    try {
      while (!flush()) {
        pollfd p{writer.get(), POLLOUT, 0};
        ::poll(&p, 1, -1);
      }
      return true;
    } catch (const Error&) {
      return false;
    }
  }

  SinkResult take(std::string_view data) {
    try {
      if (!flush()) {
        return SinkResult::pause;
      }
      const ssize_t n = ::send(writer.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        throw_errno("send layer data");
      }
      const auto sent = static_cast<std::size_t>(std::max<ssize_t>(n, 0));
      pending.assign(data.substr(sent));
      return SinkResult::taken;
    } catch (const Error&) {
      aborted = true;
      return SinkResult::abort;  // the extractor stopped; its error says why
    }
  }
};

class Puller {
 public:
  Puller(image::ImageStore& store, const RemoteReference& ref, const PullOptions& options)
      : store_(store), ref_(ref), options_(options), client_(ref, options.client, "pull") {}

  PullResult run() {
    PullResult result;
    Manifest top = fetch_manifest(client_, ref_.version());
    result.digest = top.digest;
    Manifest manifest = top;
    if (top.media_type == kOciIndex || top.media_type == kDockerManifestList) {
      const json index = parse(top.body, "index", ref_);
      try {
        manifest = fetch_manifest(client_, choose_platform(index, options_.platform, ref_));
      } catch (const json::exception& e) {
        throw_invalid("{}: malformed index: {}", ref_.full(), e.what());
      }
    }
    const json body = parse(manifest.body, "manifest", ref_);
    std::string config_digest;
    std::vector<std::pair<std::string, std::uint64_t>> layers;
    try {
      config_digest = body.at("config").at("digest").get<std::string>();
      for (const auto& layer : body.at("layers")) {
        layers.emplace_back(layer.at("digest").get<std::string>(),
                            layer.value("size", std::uint64_t{0}));
      }
    } catch (const json::exception& e) {
      throw_invalid("{}: malformed manifest: {}", ref_.full(), e.what());
    }
    for (const auto& [digest, size] : layers) {
      if (!is_sha256_digest(digest)) {
        throw_invalid("{}: unsupported layer digest \"{}\"", ref_.full(), digest);
      }
    }
    if (!is_sha256_digest(config_digest)) {
      throw_invalid("{}: unsupported config digest \"{}\"", ref_.full(), config_digest);
    }
    const std::string config = fetch_blob(client_, config_digest);
    std::vector<std::string> diff_ids;
    try {
      diff_ids = parse(config, "image configuration", ref_)
                     .at("rootfs")
                     .at("diff_ids")
                     .get<std::vector<std::string>>();
    } catch (const json::exception& e) {
      throw_invalid("{}: image configuration without rootfs.diff_ids: {}", ref_.full(), e.what());
    }
    if (diff_ids.size() != layers.size()) {
      throw_invalid("{}: the manifest has {} layers but the configuration {} diff_ids", ref_.full(),
                    layers.size(), diff_ids.size());
    }
    result.id = config_digest;
    std::vector<image::Reference> tags;
    if (!ref_.tag.empty()) {
      tags.push_back(image::Reference{ref_.familiar_name(), ref_.tag});
      if (const auto have = store_.try_resolve(tags.front().str()); have && have->id == result.id) {
        return result;  // up to date
      }
    }
    download(layers, diff_ids);
    std::vector<image::PendingLayer> pending;
    for (auto& job : jobs_) {
      pending.push_back(std::move(*job->result));
    }
    jobs_.clear();
    store_.commit(std::move(pending), {image::NewImage{config, diff_ids, tags}});
    result.downloaded = true;
    return result;
  }

 private:
  void report() {
    if (options_.progress) {
      options_.progress(statuses_);
    }
  }

  void set_status(std::size_t i, std::string status) {
    if (statuses_[i].status != status) {
      statuses_[i].status = std::move(status);
      report();
    }
  }

  void download(const std::vector<std::pair<std::string, std::uint64_t>>& layers,
                const std::vector<std::string>& diff_ids) {
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const auto& [digest, size] = layers[i];
      if (std::find(seen.begin(), seen.end(), digest) != seen.end()) {
        continue;  // the same blob twice in one image: one download
      }
      seen.push_back(digest);
      statuses_.push_back({short_id(digest), "Waiting", 0, size});
      if (std::filesystem::is_directory(store_.layer_dir(diff_ids[i]))) {
        statuses_.back().status = "Already exists";
        continue;
      }
      auto job = std::make_unique<LayerJob>();
      job->digest = digest;
      job->diff_id = diff_ids[i];
      job->size = size;
      job->status = statuses_.size() - 1;
      jobs_.push_back(std::move(job));
    }
    report();
    if (jobs_.empty()) {
      return;
    }
    std::vector<HttpRequest*> requests;
    for (auto& job : jobs_) {
      start(*job);
      requests.push_back(&job->request);
    }
    const auto responses = client_.http().perform(requests, [this] { tick(); });
    // Downloads are over: each extractor sees the end of its stream.
    std::vector<bool> downloaded;
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      const long status = responses[i].status;
      downloaded.push_back(status == 200 || status == 206);
      if (downloaded.back()) {
        jobs_[i]->flush_all();  // false: the extractor stopped, and its error says why
      }
      jobs_[i]->writer = UniqueFd();
    }
    for (auto& job : jobs_) {
      job->worker.join();
    }
    tick();
    // The first cause: an extractor that refused the stream, else a failed download.
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      const LayerJob& job = *jobs_[i];
      if (!downloaded[i] && !(job.aborted && job.error)) {
        throw_invalid("{}: download layer {}: {}", ref_.full(), job.digest,
                      Client::describe(responses[i]));
      }
    }
    for (auto& job : jobs_) {
      if (job->error) {
        try {
          std::rethrow_exception(job->error);
        } catch (const Error& e) {
          throw_invalid("{}: layer {}: {}", ref_.full(), job->digest, e.what());
        }
      }
      const auto& info = job->result->info();
      if (info.digest != job->digest) {
        throw_invalid("{}: digest mismatch for layer {}: got {} ({} bytes, truncated?)",
                      ref_.full(), job->digest, info.digest, statuses_[job->status].current);
      }
      if (info.diff_id != job->diff_id) {
        throw_invalid("{}: layer {} does not match its diff_id: expected {}, got {}", ref_.full(),
                      job->digest, job->diff_id, info.diff_id);
      }
    }
  }

  void start(LayerJob& job) {
    int fds[2];
    check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "socketpair");
    job.writer = UniqueFd(fds[0]);
    auto reader = std::make_shared<UniqueFd>(fds[1]);
    const int buffer = 4 << 20;
    ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    job.worker = std::thread([this, &job, reader] {
      try {
        job.result = store_.extract(image::fd_source(*reader), options_.limits);
      } catch (...) {
        job.error = std::current_exception();
      }
      *reader = UniqueFd();
      job.finished = true;
    });
    job.request = client_.request("GET", "blobs/" + job.digest);
    job.request.pause_fd = job.writer.get();
    job.request.sink = [this, &job](std::string_view data) {
      const SinkResult r = job.take(data);
      if (r == SinkResult::taken) {
        statuses_[job.status].current += data.size();
      }
      return r;
    };
  }

  // Progress from the download loop: byte counts, and the statuses of finished extractions.
  void tick() {
    for (auto& job : jobs_) {
      auto& s = statuses_[job->status];
      std::string status = job->finished    ? (job->error ? "Failed" : "Pull complete")
                           : s.current == 0 ? "Waiting"
                           : !job->writer   ? "Extracting"
                           : s.total && s.current >= s.total ? "Extracting"
                                                             : "Downloading";
      s.status = std::move(status);
    }
    report();
  }

  image::ImageStore& store_;
  const RemoteReference& ref_;
  const PullOptions& options_;
  Client client_;
  std::vector<LayerStatus> statuses_;
  std::vector<std::unique_ptr<LayerJob>> jobs_;
};

}  // namespace

std::string Platform::str() const {
  return os + "/" + (architecture.empty() ? image::host_architecture() : architecture) +
         (variant.empty() ? "" : "/" + variant);
}

Platform parse_platform(std::string_view text) {
  Platform p;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == text.npos ? text.npos : slash - start));
    if (slash == text.npos) {
      break;
    }
    start = slash + 1;
  }
  for (const auto& part : parts) {
    if (part.empty() ||
        part.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
      throw_invalid("invalid platform \"{}\": expected os/arch[/variant]", text);
    }
  }
  if (parts.size() < 2 || parts.size() > 3) {
    throw_invalid("invalid platform \"{}\": expected os/arch[/variant]", text);
  }
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) {
    p.variant = parts[2];
  }
  return p;
}

PullResult pull(image::ImageStore& store, const RemoteReference& ref, const PullOptions& options) {
  return Puller(store, ref, options).run();
}

}  // namespace gctool::registry
