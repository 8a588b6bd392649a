// `gctool commit [-m MSG] [-a AUTHOR] CONTAINER [REPOSITORY[:TAG]]`: the container's changes as a
// new image; prints its id.
#include <memory>
#include <string>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/commit.hpp"

namespace gctool::tool {
namespace {

struct CommitCliOptions {
  std::string container;
  std::string name;
  std::string message;
  std::string author;
};

void commit(const Globals& globals, const CommitCliOptions& o) {
  const auto containers = open_container_store(globals);
  image::ImageStore images(globals.root);
  container::CommitOptions options;
  if (!o.name.empty()) {
    options.tag = image::parse_reference(o.name);
  }
  options.comment = o.message;
  options.author = o.author;
  const auto committed = container::commit_container(containers, images, o.container, options);
  fmt::print("{}\n", committed.id);
}

void setup_commit(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("commit", "Create a new image from a container's changes");
  auto o = std::make_shared<CommitCliOptions>();
  cmd->add_option("-m,--message", o->message, "Commit message");
  cmd->add_option("-a,--author", o->author, "Author");
  cmd->add_option("container", o->container, "Container name or ID")->required();
  cmd->add_option("name", o->name, "REPOSITORY[:TAG] of the new image");
  cmd->callback([o, &globals] { commit(globals, *o); });
}

GCTOOL_REGISTER_COMMAND(setup_commit, "commit");

}  // namespace
}  // namespace gctool::tool
