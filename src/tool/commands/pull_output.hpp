// What `pull`, and `run` when it pulls, show: Docker's lines ("latest: Pulling from
// library/busybox", one line per layer, "Digest:", "Status:"). On a terminal the layer lines are
// redrawn in place with their byte counts; otherwise each change of a layer's status is one line.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/units.hpp"
#include "gctool/image/store.hpp"
#include "gctool/registry/pull.hpp"
#include "gctool/registry/reference.hpp"

namespace gctool::tool {

// The registry flags pull, push, login, run and create share.
struct RegistryCliOptions {
  std::optional<bool> tls_verify;
  std::string authfile;
  std::string platform;

  registry::ClientOptions client() const {
    registry::ClientOptions o;
    o.tls_verify = tls_verify;
    o.authfile = authfile;
    return o;
  }
};

inline void add_registry_options(CLI::App* cmd, RegistryCliOptions& o) {
  cmd->add_option("--tls-verify", o.tls_verify,
                  "Require HTTPS and verify certificates (default: yes, but loopback and "
                  "insecure-registries may use plain HTTP)");
  cmd->add_option("--authfile", o.authfile, "Credentials file (Docker config.json format)");
}

class PullView {
 public:
  PullView(std::FILE* out, bool quiet) : out_(out), quiet_(quiet), tty_(::isatty(::fileno(out))) {}

  void show(const std::vector<registry::LayerStatus>& layers) {
    if (quiet_) {
      return;
    }
    if (!tty_) {
      for (std::size_t i = 0; i < layers.size(); ++i) {
        if (i >= printed_.size()) {
          printed_.emplace_back();
        }
        if (printed_[i] != layers[i].status) {
          printed_[i] = layers[i].status;
          fmt::print(out_, "{}: {}\n", layers[i].id, layers[i].status);
        }
      }
      std::fflush(out_);
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    bool changed = layers.size() != printed_.size();
    for (std::size_t i = 0; i < layers.size() && !changed; ++i) {
      changed = printed_[i] != layers[i].status;
    }
    if (!changed && now - drawn_ < std::chrono::milliseconds(100)) {
      return;
    }
    drawn_ = now;
    std::string text = drawn_lines_ > 0 ? fmt::format("\033[{}A", drawn_lines_) : "";
    printed_.resize(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const auto& l = layers[i];
      printed_[i] = l.status;
      text += fmt::format("\r\033[K{}: {}", l.id, l.status);
      if (l.status == "Downloading" && l.total > 0) {
        constexpr std::uint64_t width = 50;
        const std::uint64_t filled = std::min(width, l.current * width / l.total);
        text += fmt::format(" [{}>{}] {}/{}", std::string(filled > 0 ? filled - 1 : 0, '='),
                            std::string(width - std::max<std::uint64_t>(filled, 1), ' '),
                            format_bytes(static_cast<std::int64_t>(l.current)),
                            format_bytes(static_cast<std::int64_t>(l.total)));
      }
      text += "\n";
    }
    drawn_lines_ = layers.size();
    fmt::print(out_, "{}", text);
    std::fflush(out_);
  }

  void line(const std::string& text) {
    if (!quiet_) {
      fmt::print(out_, "{}\n", text);
      std::fflush(out_);
    }
  }

 private:
  std::FILE* out_;
  bool quiet_;
  bool tty_;
  std::vector<std::string> printed_;
  std::size_t drawn_lines_ = 0;
  std::chrono::steady_clock::time_point drawn_{};
};

// Pulls ref with Docker's output on out (nothing but errors when quiet); returns the result.
inline registry::PullResult pull_with_output(const std::string& root,
                                             const registry::RemoteReference& ref,
                                             const RegistryCliOptions& cli, std::FILE* out,
                                             bool quiet) {
  image::ImageStore store(root);
  registry::PullOptions options;
  options.client = cli.client();
  if (!cli.platform.empty()) {
    options.platform = registry::parse_platform(cli.platform);
  }
  PullView view(out, quiet);
  view.line(fmt::format("{}: Pulling from {}", ref.version(), ref.repository));
  options.progress = [&view](const std::vector<registry::LayerStatus>& layers) {
    view.show(layers);
  };
  const auto result = registry::pull(store, ref, options);
  const std::string name =
      ref.familiar_name() + (ref.tag.empty() ? "@" + ref.digest : ":" + ref.tag);
  view.line("Digest: " + result.digest);
  view.line(result.downloaded ? "Status: Downloaded newer image for " + name
                              : "Status: Image is up to date for " + name);
  return result;
}

// The image a container is made from (`run`, `create`), pulled first as --pull says (missing,
// always, never), with the pull's progress on stderr as Docker shows it; nothing with `quiet`
// (run -q), not even "Unable to find image", as Docker.
inline image::Image image_on_demand(const std::string& root, const std::string& ref,
                                    const std::string& policy, const RegistryCliOptions& cli,
                                    bool quiet = false) {
  if (policy != "missing" && policy != "always" && policy != "never") {
    throw_invalid("invalid --pull \"{}\": expected missing, always or never", policy);
  }
  image::ImageStore images(root);
  if (policy == "never") {
    return images.resolve(ref);
  }
  if (policy == "missing") {
    if (auto image = images.try_resolve(ref)) {
      return *image;
    }
  }
  const auto remote = registry::parse_remote_reference(ref);
  if (policy == "missing" && !quiet) {
    fmt::print(
        stderr, "Unable to find image '{}' locally\n",
        remote.familiar_name() + (remote.tag.empty() ? "@" + remote.digest : ":" + remote.tag));
  }
  const auto pulled = pull_with_output(root, remote, cli, stderr, quiet);
  return images.resolve(pulled.id);
}

// The flags of image_on_demand: --pull, --platform and the registry's.
// verb: "running", "creating".
inline void add_pull_on_demand_options(CLI::App* cmd, std::string& policy, RegistryCliOptions& cli,
                                       std::string_view verb) {
  cmd->add_option("--pull", policy,
                  fmt::format("Pull the image before {}: missing, always, never", verb));
  cmd->add_option("--platform", cli.platform, "os/arch[/variant] of the image to pull");
  add_registry_options(cmd, cli);
}

}  // namespace gctool::tool
