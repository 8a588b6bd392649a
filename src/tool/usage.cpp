#include "usage.hpp"

#include <fmt/format.h>

#include "args.hpp"
#include "docker_reference.hpp"

namespace gctool::tool {
namespace {

// gctool's own verbs that Docker does not have, or names differently.
constexpr DockerCommand kOwnCommands[] = {
    {"help", "[COMMAND...]"}, {"completion", "bash|zsh"}, {"image", "COMMAND"},
    {"network", "COMMAND"},   {"volume", "COMMAND"},      {"container", "COMMAND"},
    {"system", "COMMAND"},
};

std::string_view known_usage(std::string_view path) {
  for (const auto& table : {std::span<const DockerCommand>(docker_commands()),
                            std::span<const DockerCommand>(kOwnCommands)}) {
    for (const auto& command : table) {
      if (command.path == path) {
        return command.usage;
      }
    }
  }
  return {};
}

class UsageFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string) const override {
    return fmt::format("Usage: {}\n", usage_line(app));
  }
};

}  // namespace

std::string usage_line(const CLI::App* app) {
  const auto path = command_path(app);
  const auto verb = path.size() > 7 ? std::string_view(path).substr(7) : std::string_view();
  const auto usage = known_usage(verb);
  if (!usage.empty()) {
    return fmt::format("{} {}", path, usage);
  }
  if (app->get_parent() == nullptr) {
    return "gctool [OPTIONS] COMMAND";
  }
  // A verb Docker lacks: its positionals as CLI11 names them.
  std::string line = path + " [OPTIONS]";
  for (const auto* opt :
       app->get_options([](const CLI::Option* o) { return o->get_positional(); })) {
    std::string name = opt->get_name();
    for (auto& c : name) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    const bool many = opt->get_items_expected_max() > 1;
    line += opt->get_required()
                ? fmt::format(" {}{}", name, many ? fmt::format(" [{}...]", name) : "")
                : fmt::format(" [{}{}]", name, many ? "..." : "");
  }
  return line;
}

std::shared_ptr<CLI::Formatter> usage_formatter() {
  return std::make_shared<UsageFormatter>();
}

}  // namespace gctool::tool
