// `gctool image ls` (alias `images`): Docker's table of REPOSITORY, TAG, IMAGE ID, CREATED, SIZE.
#include <algorithm>
#include <array>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/core/units.hpp"
#include "gctool/image/store.hpp"
#include "image_group.hpp"

namespace gctool::tool {
namespace {

struct LsOptions {
  bool quiet = false;
  bool no_trunc = false;
};

using Row = std::array<std::string, 5>;

// "localhost:5000/bb:1.0" -> {"localhost:5000/bb", "1.0"}: the tag follows the last ':' after
// the last '/'.
std::pair<std::string, std::string> split_tag(const std::string& repo_tag) {
  const auto colon = repo_tag.rfind(':');
  const auto slash = repo_tag.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) {
    return {repo_tag, "<none>"};
  }
  return {repo_tag.substr(0, colon), repo_tag.substr(colon + 1)};
}

std::string created_ago(const image::Image& img) {
  if (img.created_time.time_since_epoch().count() == 0) {
    return "N/A";
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now() - img.created_time);
  return format_duration_ago(std::max(elapsed, std::chrono::seconds(0))) + " ago";
}

void run_ls(const Globals& globals, const LsOptions& opts) {
  const image::ImageStore store(globals.root);
  const auto images = store.list();
  if (opts.quiet) {
    for (const auto& img : images) {
      fmt::print("{}\n", opts.no_trunc ? img.id : img.short_id());
    }
    return;
  }
  std::vector<Row> rows{{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
  for (const auto& img : images) {
    const std::string id = opts.no_trunc ? img.id : img.short_id();
    const std::string created = created_ago(img);
    const std::string size = format_bytes(static_cast<std::int64_t>(img.size));
    if (img.repo_tags.empty()) {
      rows.push_back({"<none>", "<none>", id, created, size});
    }
    for (const auto& repo_tag : img.repo_tags) {
      auto [repo, tag] = split_tag(repo_tag);
      rows.push_back({repo, tag, id, created, size});
    }
  }
  std::array<std::size_t, 5> width{};
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i + 1 < row.size(); ++i) {
      line += fmt::format("{:<{}}   ", row[i], width[i]);
    }
    line += row.back();
    fmt::print("{}\n", line);
  }
}

void add_ls_options(CLI::App* cmd, Globals& globals) {
  auto opts = std::make_shared<LsOptions>();
  cmd->add_flag("-q,--quiet", opts->quiet, "Only show image IDs");
  cmd->add_flag("--no-trunc", opts->no_trunc, "Show full image IDs");
  cmd->callback([&globals, opts] { run_ls(globals, *opts); });
}

void setup_image_ls(CLI::App& app, Globals& globals) {
  add_ls_options(image_group(app)->add_subcommand("ls", "List images")->alias("list"), globals);
  add_ls_options(app.add_subcommand("images", "List images (image ls)"), globals);
}

GCTOOL_REGISTER_COMMAND(setup_image_ls);

}  // namespace
}  // namespace gctool::tool
