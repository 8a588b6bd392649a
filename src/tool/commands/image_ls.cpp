// `gctool image ls` (alias `images`) [-a] [-q] [--no-trunc] [--filter K=V] [--format F]
// [REPO[:TAG]]: Docker's table of REPOSITORY, TAG, IMAGE ID, CREATED, SIZE.
#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "filters.hpp"
#include "gctool/core/units.hpp"
#include "gctool/image/store.hpp"
#include "image_group.hpp"
#include "list_format.hpp"

namespace gctool::tool {
namespace {

struct LsOptions {
  bool all = false;  // accepted as Docker's: the store keeps no intermediate images to hide
  bool quiet = false;
  bool no_trunc = false;
  std::vector<std::string> filters;
  std::string format;
  std::string reference;
};

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

const ListColumns kColumns{"table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
                           {{"Repository", "REPOSITORY"},
                            {"Tag", "TAG"},
                            {"ID", "IMAGE ID"},
                            {"Digest", "DIGEST"},
                            {"CreatedSince", "CREATED"},
                            {"CreatedAt", "CREATED AT"},
                            {"Size", "SIZE"},
                            {"VirtualSize", "SIZE"},
                            {"Containers", "CONTAINERS"}}};

// Docker's `images` filters: reference (a glob on REPOSITORY[:TAG]), dangling, before, since.
bool accepts(const Filters& filters, const image::Image& img, const image::ImageStore& store) {
  const auto reference_matches = [&](const std::string& pattern) {
    return std::any_of(img.repo_tags.begin(), img.repo_tags.end(), [&](const auto& repo_tag) {
      const auto repo = split_tag(repo_tag).first;
      return ::fnmatch(pattern.c_str(), repo_tag.c_str(), 0) == 0 ||
             ::fnmatch(pattern.c_str(), repo.c_str(), 0) == 0;
    });
  };
  const auto created_vs = [&](const std::string& ref, bool before) {
    const auto other = store.try_resolve(ref);
    if (!other) {
      throw_invalid("no such image: {}", ref);
    }
    return before ? img.created_time < other->created_time : img.created_time > other->created_time;
  };
  return filter_accepts(filters, "reference", reference_matches) &&
         filter_accepts(
             filters, "dangling",
             [&](const auto& v) { return (v == "true" || v == "1") == img.repo_tags.empty(); }) &&
         filter_accepts(filters, "before", [&](const auto& v) { return created_vs(v, true); }) &&
         filter_accepts(filters, "since", [&](const auto& v) { return created_vs(v, false); });
}

void run_ls(const Globals& globals, const LsOptions& opts) {
  const image::ImageStore store(globals.root);
  auto filter_args = opts.filters;
  if (!opts.reference.empty()) {
    filter_args.push_back("reference=" + opts.reference);
  }
  const auto filters = parse_filters(filter_args, {"reference", "dangling", "before", "since"});
  for (const auto& v : filter_values(filters, "dangling")) {
    if (v != "true" && v != "false" && v != "1" && v != "0") {
      throw_invalid("invalid filter 'dangling={}'", v);
    }
  }
  if (!opts.quiet && !opts.format.empty()) {
    render_list(opts.format, kColumns, {});
  }
  std::vector<nlohmann::json> rows;
  std::vector<std::string> ids;
  for (const auto& img : store.list()) {
    if (!accepts(filters, img, store)) {
      continue;
    }
    const std::string id = opts.no_trunc ? img.id : img.short_id();
    if (opts.quiet) {
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
        ids.push_back(id);
      }
      continue;
    }
    const std::string size = format_bytes(static_cast<std::int64_t>(img.size));
    auto tags = img.repo_tags;
    if (tags.empty()) {
      tags.push_back("<none>:<none>");
    }
    for (const auto& repo_tag : tags) {
      auto [repo, tag] = split_tag(repo_tag);
      rows.push_back({{"Repository", repo},
                      {"Tag", tag},
                      {"ID", id},
                      {"Digest", "<none>"},
                      {"CreatedSince", created_ago(img)},
                      {"CreatedAt", img.created},
                      {"Size", size},
                      {"VirtualSize", size},
                      {"Containers", "N/A"}});
    }
  }
  for (const auto& id : ids) {
    fmt::print("{}\n", id);
  }
  if (!opts.quiet) {
    fmt::print("{}", render_list(opts.format, kColumns, rows));
  }
}

void add_ls_options(CLI::App* cmd, Globals& globals) {
  auto opts = std::make_shared<LsOptions>();
  cmd->add_flag("-a,--all", opts->all, "Show all images (there are no intermediate ones to hide)");
  cmd->add_flag("-q,--quiet", opts->quiet, "Only show image IDs");
  cmd->add_flag("--no-trunc", opts->no_trunc, "Show full image IDs");
  cmd->add_option("-f,--filter", opts->filters,
                  "Filter output: reference, dangling, before, since (KEY=VALUE)")
      ->allow_extra_args(false);
  cmd->add_option("--format", opts->format,
                  "Output format: table, table TEMPLATE, json or a Go template");
  cmd->add_option("REPOSITORY", opts->reference, "Only images of this REPOSITORY[:TAG]");
  cmd->callback([&globals, opts] { run_ls(globals, *opts); });
}

void setup_image_ls(CLI::App& app, Globals& globals) {
  add_ls_options(image_group(app)->add_subcommand("ls", "List images")->alias("list"), globals);
  add_ls_options(app.add_subcommand("images", "List images (image ls)"), globals);
}

GCTOOL_REGISTER_COMMAND(setup_image_ls, "image", "images");

}  // namespace
}  // namespace gctool::tool
