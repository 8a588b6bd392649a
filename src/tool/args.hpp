// Docker's flag syntax (spf13/pflag) in front of CLI11: every word is checked against the chosen
// verb's flags before CLI11 sees it, so an unknown flag is reported as such instead of being taken
// for an image or container name, and pflag's forms (`-e=K=V`, `-dit`, `-p8080:80`, `--name=x`)
// are rewritten into ones CLI11 reads the same way.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace gctool::tool {

// A command line Docker would refuse; `app` is the verb whose usage the message points to.
struct UsageError {
  std::string message;
  const CLI::App* app;
  bool show_usage = false;  // the usage line says more than "see --help"
};

struct CheckedArgs {
  std::vector<std::string> words;  // argv rewritten for CLI11, argv[0] first
  const CLI::App* verb = nullptr;  // the deepest subcommand named (the root app without one)
  bool help = false;               // -h/--help/--version was given: no argument count applies
};

// Throws UsageError for an unknown verb or flag, a flag missing its value, or too few arguments.
CheckedArgs check_args(const CLI::App& root, const std::vector<std::string>& argv);

// "gctool network ls": the command words leading to app.
std::string command_path(const CLI::App* app);

}  // namespace gctool::tool
