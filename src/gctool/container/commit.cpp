#include "gctool/container/commit.hpp"

#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_lock.hpp"
#include "gctool/image/commit.hpp"
#include "gctool/image/pack.hpp"

namespace gctool::container {

image::Image commit_container(const ContainerStore& containers, image::ImageStore& images,
                              std::string_view ref, const CommitOptions& options) {
  const Record record = inspect_container(containers, ref);
  if (!images.try_resolve(record.spec.image_id)) {
    throw_invalid("the image {} of container {} is no longer in the store", record.spec.image_ref,
                  record.name);
  }
  image::CommitRequest request;
  request.base = record.spec.image_id;
  request.dir = containers.dir(record.id) / "upper";
  request.config.cmd = record.spec.cmd;
  request.config.entrypoint = record.spec.entrypoint;
  request.config.env = record.spec.env;
  request.config.working_dir = record.spec.working_dir;
  request.config.user = record.spec.user;
  request.tag = options.tag;
  request.comment = options.comment;
  request.author = options.author;
  return image::commit_layer(images, request);
}

void export_container(const ContainerStore& containers, const image::ImageStore& images,
                      std::string_view ref, BorrowedFd out) {
  const Record record = inspect_container(containers, ref);
  // Keeps `image rm -f` from removing the layers while they are read.
  const FileLock lock = images.lock_shared();
  std::vector<std::filesystem::path> layers = record.spec.layer_dirs;
  layers.push_back(containers.dir(record.id) / "upper");
  image::pack_merged(layers, out);
}

}  // namespace gctool::container
