// The new layer goes through a tar and the same extraction as every loaded layer: the store then
// holds exactly what the tar (and so `image save`) says, never a copy of the live upper dir.
#include "gctool/image/commit.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/time.hpp"
#include "gctool/image/pack.hpp"

using nlohmann::json;

namespace gctool::image {

Image commit_layer(ImageStore& store, const CommitRequest& request) {
  const Image base = store.resolve(request.base);
  json config;
  try {
    config = json::parse(store.config_json(base));
  } catch (const json::exception& e) {
    throw_invalid("corrupt configuration of image {}: {}", base.id, e.what());
  }
  const PackedLayer packed = pack_layer(request.dir, store.root() / "layers");
  PendingLayer layer = store.extract(fd_source(packed.file));
  if (layer.info().diff_id != packed.diff_id) {
    throw Error(EIO, "commit: the packed layer changed while it was extracted");
  }

  json& run_config = config["config"];
  if (!run_config.is_object()) {
    run_config = json::object();
  }
  const json mine = request.config;
  for (const char* key : {"Cmd", "Entrypoint", "Env", "WorkingDir", "User"}) {
    if (mine.contains(key)) {
      run_config[key] = mine[key];
    } else {
      run_config.erase(key);
    }
  }
  const std::string created = format_rfc3339_nano(std::chrono::system_clock::now());
  config["created"] = created;
  if (!request.author.empty()) {
    config["author"] = request.author;
  }
  std::vector<std::string> diff_ids = base.diff_ids;
  diff_ids.push_back(packed.diff_id);
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  json history = {{"created", created}, {"created_by", "gctool commit"}};
  if (!request.comment.empty()) {
    history["comment"] = request.comment;
  }
  if (!config["history"].is_array()) {
    config["history"] = json::array();
  }
  config["history"].push_back(std::move(history));

  NewImage image{config.dump(), std::move(diff_ids), {}};
  if (request.tag) {
    image.tags.push_back(*request.tag);
  }
  std::vector<PendingLayer> pending;
  pending.push_back(std::move(layer));
  return store.commit(std::move(pending), {image}).front();
}

}  // namespace gctool::image
