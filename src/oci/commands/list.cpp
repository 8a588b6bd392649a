// `gctool-oci list [-q] [--format table|json]`: the containers under --root.
#include <memory>

#include <fmt/format.h>

#include "../command.hpp"
#include "../state.hpp"
#include "gctool/core/error.hpp"

namespace gctool::oci {
namespace {

struct ListArgs {
  bool quiet = false;
  std::string format = "table";
};

void list(const Globals& globals, const ListArgs& a) {
  std::vector<std::pair<State, std::string>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(globals.root, ec)) {
    try {
      auto state = load_state(globals.root, entry.path().filename().string());
      auto status = status_of(globals.root, state);
      found.emplace_back(std::move(state), std::move(status));
    } catch (const Error&) {
      // Being created or deleted right now, or not a container.
    }
  }
  if (a.quiet) {
    for (const auto& [state, status] : found) {
      fmt::print("{}\n", state.id);
    }
    return;
  }
  if (a.format == "json") {
    auto doc = nlohmann::json::array();
    for (const auto& [state, status] : found) {
      doc.push_back(state_json(state, status));
    }
    fmt::print("{}\n", doc.dump());
    return;
  }
  fmt::print("{:<20} {:<8} {:<10} {:<40} {:<32} {}\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
             "OWNER");
  for (const auto& [state, status] : found) {
    fmt::print("{:<20} {:<8} {:<10} {:<40} {:<32} {}\n", state.id,
               status == "stopped" ? 0 : state.pid, status, state.bundle.string(), state.created,
               "root");
  }
}

void setup_list(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("list", "List containers");
  auto a = std::make_shared<ListArgs>();
  cmd->add_flag("-q,--quiet", a->quiet, "IDs only");
  cmd->add_option("-f,--format", a->format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->callback([a, &globals] { list(globals, *a); });
}

GCTOOL_OCI_COMMAND(setup_list);

}  // namespace
}  // namespace gctool::oci
