// How CLI verbs plug into the gctool CLI: each src/tool/commands/<verb>.cpp registers a setup
// function at start-up, so adding a verb touches no shared file.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace gctool::tool {

// Options every verb sees, and the exit code the verb chose.
struct Globals {
  std::string root = "/var/lib/gctool";
  int exit_code = 0;
};

using CommandSetup = void (*)(CLI::App& app, Globals& globals);

std::vector<CommandSetup>& command_registry();

inline bool register_command(CommandSetup setup) {
  command_registry().push_back(setup);
  return true;
}

// Exit codes shared with Docker: 125 is gctool's own failure.
inline constexpr int kExitToolError = 125;

}  // namespace gctool::tool

// Registers a setup function from a command's .cpp file.
#define GCTOOL_REGISTER_COMMAND(fn) \
  [[maybe_unused]] static const bool gctool_registered_##fn = ::gctool::tool::register_command(fn)
