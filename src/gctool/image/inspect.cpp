#include "gctool/image/inspect.hpp"

namespace gctool::image {

nlohmann::json inspect_image(const ImageStore& store, const Image& image) {
  // The stored configuration is what was hashed into the id; an unreadable one still leaves the
  // record's own fields to show.
  const auto config = nlohmann::json::parse(store.config_json(image), nullptr, false);
  const auto field = [&](const char* key) {
    return config.is_object() && config.contains(key) ? config[key] : nlohmann::json("");
  };
  return {
      {"Id", image.id},
      {"RepoTags", image.repo_tags},
      {"RepoDigests", nlohmann::json::array()},
      {"Created", image.created},
      {"Size", image.size},
      {"Architecture", field("architecture")},
      {"Os", field("os")},
      // The configuration as stored: Volumes, Healthcheck, OnBuild and Shell too.
      {"Config", config.is_object() && config.contains("config") && config["config"].is_object()
                     ? config["config"]
                     : nlohmann::json(image.config)},
      {"Author", field("author")},
      {"RootFS", {{"Type", "layers"}, {"Layers", image.diff_ids}}},
  };
}

}  // namespace gctool::image
