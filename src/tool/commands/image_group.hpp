// The `image` verb group: each src/tool/commands/image_<verb>.cpp adds its subcommand to it,
// whichever registers first creates it.
#pragma once

#include <fcntl.h>

#include <string>

#include <CLI/CLI.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::tool {

inline CLI::App* image_group(CLI::App& app) {
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "image") {
      return sub;
    }
  }
  auto* group = app.add_subcommand("image", "Manage images");
  group->require_subcommand(1);
  return group;
}

// The file to read an archive from, or a duplicate of stdin for "-".
inline UniqueFd open_input(const std::string& path) {
  UniqueFd fd(path == "-" ? ::fcntl(0, F_DUPFD_CLOEXEC, 0)
                          : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open \"{}\"", path);
  }
  return fd;
}

}  // namespace gctool::tool
