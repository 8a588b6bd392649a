// `gctool cp [-a] [-L] CONTAINER:SRC DEST|-` and `gctool cp [-a] [-L] SRC|- CONTAINER:DEST`:
// files between a container (running or not) and the host, or a tar stream, as `docker cp`.
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/copy.hpp"
#include "gctool/core/error.hpp"

namespace gctool::tool {
namespace {

struct CpArgs {
  std::string source;
  std::string destination;
  container::CopyOptions options;
};

// "NAME:PATH" names a path in a container; an absolute path, or one starting with ".", is the
// host's even when it holds a ':' (Docker's rule).
struct Location {
  std::optional<std::string> container;
  std::string path;
};

Location parse_location(const std::string& arg) {
  const auto colon = arg.find(':');
  if (arg.starts_with('/') || arg.starts_with('.') || colon == std::string::npos) {
    return {std::nullopt, arg};
  }
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

void cp(Globals& globals, const CpArgs& args) {
  const Location from = parse_location(args.source);
  const Location to = parse_location(args.destination);
  if (from.container && to.container) {
    throw_invalid("copying between containers is not supported");
  }
  if (!from.container && !to.container) {
    throw_invalid("must specify at least one container source");
  }
  if ((from.container && from.path.empty()) || (to.container && to.path.empty())) {
    throw_invalid("the path in the container must not be empty");
  }
  const auto store = open_container_store(globals);
  if (from.container) {
    if (to.path == "-") {
      if (::isatty(1)) {
        throw_invalid("refusing to write a tar stream to a terminal; redirect stdout");
      }
      container::copy_from_container_to_tar(store, *from.container, from.path, BorrowedFd(1),
                                            args.options);
    } else {
      container::copy_from_container(store, *from.container, from.path, to.path, args.options);
    }
  } else if (from.path == "-") {
    container::copy_tar_to_container(store, BorrowedFd(0), *to.container, to.path);
  } else {
    container::copy_to_container(store, from.path, *to.container, to.path, args.options);
  }
}

void setup_cp(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand(
      "cp",
      "Copy files/folders between a container and the local filesystem ('-' is a tar stream)");
  auto args = std::make_shared<CpArgs>();
  cmd->add_flag("-a,--archive", args->options.archive,
                "Archive mode (copy all uid/gid information)");
  cmd->add_flag("-L,--follow-link", args->options.follow_link,
                "Always follow symbol link in SRC_PATH");
  cmd->add_option("SRC", args->source, "CONTAINER:SRC_PATH, a host path or '-'")->required();
  cmd->add_option("DEST", args->destination, "CONTAINER:DEST_PATH, a host path or '-'")->required();
  // As Docker's: a copy that fails (no such path, no such container) exits 1, bad flags 125.
  cmd->callback([args, &globals] { with_daemon_exit_code(globals, [&] { cp(globals, *args); }); });
}

GCTOOL_REGISTER_COMMAND(setup_cp, "cp");

}  // namespace
}  // namespace gctool::tool
