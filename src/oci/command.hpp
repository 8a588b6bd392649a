// How gctool-oci's verbs plug in: each src/oci/commands/<verb>.cpp registers a setup function,
// as the gctool CLI's verbs do.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace gctool::oci {

// runc's global flags.
struct Globals {
  std::filesystem::path root = "/run/gctool-oci";
  std::string log;
  std::string log_format = "text";
  bool systemd_cgroup = false;
  bool debug = false;
  int exit_code = 0;
};

using CommandSetup = void (*)(CLI::App& app, Globals& globals);

std::vector<CommandSetup>& command_registry();

inline bool register_command(CommandSetup setup) {
  command_registry().push_back(setup);
  return true;
}

// A line in the --log file (json or text, as runc writes them); nothing without --log.
void log_line(const Globals& globals, const std::string& level, const std::string& message);

}  // namespace gctool::oci

#define GCTOOL_OCI_COMMAND(fn)                                    \
  [[maybe_unused]] static const bool gctool_oci_registered_##fn = \
      ::gctool::oci::register_command(fn)
