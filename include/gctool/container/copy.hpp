// `cp`: files between a container and the host, or a tar stream, as `docker cp` copies them. The
// container's side is reached through its root (a running container's /proc/PID/root, or a
// detached mount of a stopped one's overlay) and every path in it is resolved inside that root
// (openat2 RESOLVE_IN_ROOT): no symlink in the container can lead a copy out of it.
#pragma once

#include <filesystem>
#include <string_view>

#include "gctool/container/store.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::container {

struct CopyOptions {
  bool archive = false;      // -a: keep the files' owners (otherwise root owns what is copied in)
  bool follow_link = false;  // -L: a symlink named as the source is copied as what it points to
};

// Docker's rules for the destination: an existing directory receives the source under its name
// (a source ending in "/." gives its entries only); otherwise the source is copied as the
// destination's name into its parent, which must exist. A directory never replaces a file.
// Failures throw an Error naming the path; nothing is copied when the source or the
// destination's directory is missing.
void copy_from_container(const ContainerStore& store, std::string_view ref, std::string_view source,
                         const std::filesystem::path& destination, const CopyOptions& options);
void copy_to_container(const ContainerStore& store, const std::filesystem::path& source,
                       std::string_view ref, std::string_view destination,
                       const CopyOptions& options);

// `cp CONTAINER:PATH -`: the source as a tar on out, with the owners it has in the container.
void copy_from_container_to_tar(const ContainerStore& store, std::string_view ref,
                                std::string_view source, BorrowedFd out,
                                const CopyOptions& options);
// `cp - CONTAINER:DIR`: extracts the tar read from in into the directory destination.
void copy_tar_to_container(const ContainerStore& store, BorrowedFd in, std::string_view ref,
                           std::string_view destination);

}  // namespace gctool::container
