// A container's filesystem as an image (`commit`) or as a tar (`export`). Both read the layers
// and the upper dir from the host side, so they work on running and exited containers alike and
// mount nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gctool/container/store.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/reference.hpp"
#include "gctool/image/store.hpp"

namespace gctool::container {

struct CommitOptions {
  std::optional<image::Reference> tag;
  std::string comment;
  std::string author;
};

// The container's upper dir as a new layer over its image's layers, with the container's Cmd,
// Entrypoint, Env, WorkingDir and User (image::commit_layer). Throws an invalid-input Error when
// the container's image is no longer in the store.
image::Image commit_container(const ContainerStore& containers, image::ImageStore& images,
                              std::string_view ref, const CommitOptions& options = {});

// Writes the merged root filesystem of the container (image layers plus its changes, as the
// container sees / without its mounts) to out as a tar.
void export_container(const ContainerStore& containers, const image::ImageStore& images,
                      std::string_view ref, BorrowedFd out);

}  // namespace gctool::container
