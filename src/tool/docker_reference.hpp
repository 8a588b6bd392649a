// What Docker's CLI offers, as its reference documents it: the commands with their usage lines,
// and the flags of `docker run`. gctool's own command table is compared with these for usage
// lines and for the README's "Docker CLI coverage" table.
#pragma once

#include <span>
#include <string_view>

namespace gctool::tool {

struct DockerCommand {
  std::string_view path;   // "network ls"
  std::string_view usage;  // what follows "docker network ls" in Docker's usage line
};

struct DockerFlag {
  std::string_view name;        // "--tmpfs"
  std::string_view short_name;  // "-v", or empty
};

std::span<const DockerCommand> docker_commands();
std::span<const DockerFlag> docker_run_flags();

}  // namespace gctool::tool
