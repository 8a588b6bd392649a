// `gctool image history` (alias `history`) [--no-trunc] IMAGE: Docker's table of the steps that
// made an image, newest first, from the history entries of its configuration.
#include <algorithm>
#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/time.hpp"
#include "gctool/core/units.hpp"
#include "gctool/image/store.hpp"
#include "image_group.hpp"
#include "table.hpp"

namespace gctool::tool {
namespace {

struct HistoryArgs {
  std::string ref;
  bool no_trunc = false;
};

std::string ago(const std::string& created) {
  try {
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now() - parse_rfc3339(created));
    return format_duration_ago(std::max(elapsed, std::chrono::seconds(0))) + " ago";
  } catch (const Error&) {
    return "N/A";
  }
}

void history(const Globals& globals, const HistoryArgs& args) {
  const image::ImageStore store(globals.root);
  const auto img = store.resolve(args.ref);
  const auto config = parse_json(store.config_json(img), "image configuration");
  std::vector<std::vector<std::string>> rows = {{"IMAGE", "CREATED", "CREATED BY", "COMMENT"}};
  const auto entries = config.value("history", nlohmann::json::array());
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    std::string by = it->value("created_by", "");
    if (!args.no_trunc && by.size() > 45) {
      by = by.substr(0, 44) + "…";
    }
    rows.push_back({it == entries.rbegin() ? img.short_id() : "<missing>",
                    ago(it->value("created", "")), by, it->value("comment", "")});
  }
  print_table(rows);
}

void add_history_options(CLI::App* cmd, Globals& globals) {
  auto args = std::make_shared<HistoryArgs>();
  cmd->add_flag("--no-trunc", args->no_trunc, "Don't truncate output");
  cmd->add_option("IMAGE", args->ref, "Image name or ID")->required();
  cmd->callback([args, &globals] { history(globals, *args); });
}

void setup_image_history(CLI::App& app, Globals& globals) {
  add_history_options(image_group(app)->add_subcommand("history", "Show the history of an image"),
                      globals);
  add_history_options(app.add_subcommand("history", "Show the history of an image (image history)"),
                      globals);
}

GCTOOL_REGISTER_COMMAND(setup_image_history, "image", "history");

}  // namespace
}  // namespace gctool::tool
