// How CLI verbs plug into the gctool CLI: each src/tool/commands/<verb>.cpp registers a setup
// function at start-up, with the top-level words it adds, so adding a verb touches no shared file
// and main() sets up only the verb being run.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"

namespace gctool::tool {

// Options every verb sees, and the exit code the verb chose.
struct Globals {
  std::string root = "/var/lib/gctool";
  int exit_code = 0;
  // Set by a verb that found it must start containers: main() runs it again from a sealed copy
  // of gctool (sys::reexec_sealed) with the same arguments.
  bool reexec_sealed = false;
};

using CommandSetup = void (*)(CLI::App& app, Globals& globals);

struct Command {
  CommandSetup setup;
  // The top-level words setup adds to (a verb, or a group such as "image" it adds a verb to).
  std::vector<std::string_view> verbs;
  // help, completion and __coverage read every verb: running one sets them all up.
  bool whole_tree = false;
};

std::vector<Command>& command_registry();

inline bool register_command(Command command) {
  command_registry().push_back(std::move(command));
  return true;
}

// Exit codes shared with Docker: 125 is gctool's own failure.
inline constexpr int kExitToolError = 125;

// `gctool: <message>` on stderr, always one line: control characters that input quoted in the
// message may hold (a newline in a name, say) are escaped.
inline void print_error(std::string_view message) {
  fmt::print(stderr, "gctool: {}\n", printable(message));
}

// A variable of gctool's own environment, for `-e K` without a value.
inline std::optional<std::string> caller_env(const std::string& key) {
  const char* value = std::getenv(key.c_str());
  return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

// Docker's multi-container verbs (stop, kill, rm, start, restart): act on each ref in turn and
// print it; a failure is reported as `gctool: <error>`, the rest still run, and the exit code is 1.
template <typename Action>
void for_each_container(Globals& globals, const std::vector<std::string>& refs, Action action) {
  for (const auto& ref : refs) {
    try {
      action(ref);
      fmt::print("{}\n", ref);
      std::fflush(stdout);
    } catch (const Error& e) {
      std::fflush(stdout);
      print_error(e.what());
      globals.exit_code = 1;
    }
  }
}

// Runs action; an Error is reported as Docker's daemon errors are (a path or name that does not
// exist, a container that does not run): one line and exit 1, where bad flags exit 125.
template <typename Action>
void with_daemon_exit_code(Globals& globals, Action action) {
  try {
    action();
  } catch (const Error& e) {
    std::fflush(stdout);
    print_error(e.what());
    globals.exit_code = 1;
  }
}

// Docker's `network rm` and `volume rm`: act on each name in turn and print it; every name that
// can be is done, then the first failure is thrown.
template <typename Action>
void for_each_name(const std::vector<std::string>& names, Action action) {
  std::optional<Error> failure;
  for (const auto& name : names) {
    try {
      action(name);
      fmt::print("{}\n", name);
    } catch (const Error& e) {
      if (!failure) {
        failure = e;
      }
    }
  }
  if (failure) {
    throw *failure;
  }
}

}  // namespace gctool::tool

// Registers a setup function from a command's .cpp file, with the top-level words it adds.
#define GCTOOL_REGISTER_COMMAND(fn, ...)                      \
  [[maybe_unused]] static const bool gctool_registered_##fn = \
      ::gctool::tool::register_command({fn, {__VA_ARGS__}, false})
// The same, for a verb that reads every other verb's options.
#define GCTOOL_REGISTER_WHOLE_TREE_COMMAND(fn, ...)           \
  [[maybe_unused]] static const bool gctool_registered_##fn = \
      ::gctool::tool::register_command({fn, {__VA_ARGS__}, true})
