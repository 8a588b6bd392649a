// Docker's multi-container verbs (stop, kill, rm, restart) acting on all their containers at
// once, and Docker's exit code for a container that does not exist or does not run.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/core/error.hpp"
#include "parallel.hpp"

namespace gctool::tool {

// Docker's daemon errors about the container named (it does not exist, it does not run, its log
// driver keeps nothing to read): the verb prints them and exits 1, where gctool's own failures
// exit 125.
inline bool is_container_state_error(const Error& e) {
  const std::string_view message = e.what();
  return message.starts_with("no such container: ") || message.ends_with(" is not running") ||
         message == "configured logging driver does not support reading" ||
         message.find(" is restarting") != std::string_view::npos ||
         message.find(" is paused, ") != std::string_view::npos;
}

// Acts on every ref at once, each in a process of its own (so that stopping four containers
// takes as long as stopping one), then prints each ref as given, in order; a failure is
// reported as `gctool: <error>`, the rest still run, and the exit code is 1. With skip_missing
// (rm -f), a container that does not exist is neither printed nor an error.
template <typename Action>
void for_all_containers(Globals& globals, const std::vector<std::string>& refs, Action action,
                        bool skip_missing = false) {
  // An empty message is success; "\0" marks a missing container that is skipped.
  const std::string skipped(1, '\0');
  const auto attempt = [&](const std::string& ref) -> std::string {
    try {
      action(ref);
      return {};
    } catch (const Error& e) {
      return skip_missing && std::string_view(e.what()).starts_with("no such container: ")
                 ? skipped
                 : std::string(e.what());
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  std::vector<std::string> results;
  if (refs.size() == 1) {
    results.push_back(attempt(refs.front()));
  } else {
    results = run_in_parallel(refs, attempt);
  }
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (results[i].empty()) {
      fmt::print("{}\n", refs[i]);
      std::fflush(stdout);
    } else if (results[i] != skipped) {
      std::fflush(stdout);
      print_error(results[i]);
      globals.exit_code = 1;
    }
  }
}

}  // namespace gctool::tool
