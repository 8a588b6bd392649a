// Docker's management commands (`container`, `system`): each verb file adds its subcommand to
// the group, whichever registers first creates it.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace gctool::tool {

inline CLI::App* command_group(CLI::App& app, const std::string& name,
                               const std::string& description) {
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) {
      return sub;
    }
  }
  auto* group = app.add_subcommand(name, description);
  group->require_subcommand(1);
  return group;
}

}  // namespace gctool::tool
