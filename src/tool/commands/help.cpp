// `gctool help [COMMAND...]`: the help of a verb, as `gctool COMMAND --help` prints it.
#include <memory>

#include <fmt/format.h>

#include "args.hpp"
#include "command.hpp"

namespace gctool::tool {
namespace {

void help(const CLI::App& root, const std::vector<std::string>& words) {
  const CLI::App* app = &root;
  for (const auto& word : words) {
    const CLI::App* next = nullptr;
    for (const auto* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
      if (!sub->get_name().empty() && sub->check_name(word)) {
        next = sub;
      }
    }
    if (next == nullptr) {
      throw_invalid("unknown help topic \"{}\" (see '{} --help')", word, command_path(app));
    }
    app = next;
  }
  fmt::print("{}", app->help());
}

void setup_help(CLI::App& app, Globals&) {
  auto* cmd = app.add_subcommand("help", "Help about any command");
  auto words = std::make_shared<std::vector<std::string>>();
  cmd->add_option("COMMAND", *words, "The command to describe");
  cmd->callback([&app, words] { help(app, *words); });
}

GCTOOL_REGISTER_WHOLE_TREE_COMMAND(setup_help, "help");

}  // namespace
}  // namespace gctool::tool
