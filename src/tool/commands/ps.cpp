// `gctool ps [-a] [-q] [--no-trunc] [--format json|TEMPLATE]`: the containers, as `docker ps` lists
// them.
#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/json_template.hpp"
#include "gctool/core/time.hpp"
#include "gctool/core/units.hpp"
#include "table.hpp"

namespace gctool::tool {
namespace {

using Clock = std::chrono::system_clock;

struct PsOptions {
  bool all = false;
  bool quiet = false;
  bool no_trunc = false;
  std::string format;
};

std::string ago(const std::string& when, Clock::time_point now) {
  if (when.empty()) {
    return "";
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - parse_rfc3339(when));
  return format_duration_ago(std::max(elapsed, std::chrono::seconds(0)));
}

std::string status_text(const container::Record& r, Clock::time_point now) {
  switch (r.state.status) {
    case container::Status::running:
      return "Up " + ago(r.state.started_at, now);
    case container::Status::restarting:
      return fmt::format("Restarting ({}) {} ago", r.state.exit_code,
                         ago(r.state.finished_at, now));
    case container::Status::exited:
      return fmt::format("Exited ({}) {} ago", r.state.exit_code, ago(r.state.finished_at, now));
    case container::Status::created:
      return "Created";
  }
  return "";
}

// Docker's COMMAND column: the command line cut to 20 characters with "…", then quoted.
std::string command_text(const container::Record& r, bool no_trunc) {
  // An argument with spaces or quotes is shown single-quoted, as Docker shows `sh -c 'exit 3'`.
  std::string command;
  for (const auto& arg : r.args()) {
    if (!command.empty()) {
      command += ' ';
    }
    if (arg.find_first_of(" \t'\"$") == std::string::npos && !arg.empty()) {
      command += arg;
    } else {
      command += '\'';
      for (const char c : arg) {
        command += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      command += '\'';
    }
  }
  if (!no_trunc && command.size() > 20) {
    command = command.substr(0, 19) + "…";
  }
  std::string quoted = "\"";
  for (const char c : command) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  return quoted + "\"";
}

// Docker's PORTS column: "0.0.0.0:18080->80/tcp, 0.0.0.0:5353->53/udp" while published.
std::string ports_text(const container::Record& r) {
  std::string text;
  if (r.network) {
    for (const auto& p : r.network->ports) {
      text += (text.empty() ? "" : ", ") + net::to_string(p);
    }
  }
  return text;
}

void ps(const Globals& globals, const PsOptions& o) {
  // Anything but json and table is a Go template over the json fields, as in Docker.
  const bool templated = !o.format.empty() && o.format != "json" && o.format != "table";
  const auto store = open_container_store(globals);
  auto records = container::list_containers(store);
  // Newest first, as Docker.
  std::reverse(records.begin(), records.end());
  const auto now = Clock::now();
  std::string lines;  // json or template output
  std::vector<std::vector<std::string>> rows{
      {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
  for (const auto& r : records) {
    // As Docker: a restarting container is listed with the running ones.
    if (!o.all && !r.running() && r.state.status != container::Status::restarting) {
      continue;
    }
    const std::string id = o.no_trunc ? r.id : short_id(r.id);
    if (o.quiet) {
      fmt::print("{}\n", id);
      continue;
    }
    const std::string created = ago(r.created, now) + " ago";
    if (o.format == "json" || templated) {
      const nlohmann::json line = {{"ID", id},
                                   {"Image", r.spec.image_ref},
                                   {"Command", command_text(r, o.no_trunc)},
                                   {"CreatedAt", r.created},
                                   {"RunningFor", created},
                                   {"State", to_string(r.state.status)},
                                   {"Status", status_text(r, now)},
                                   {"Ports", ports_text(r)},
                                   {"Networks", r.network ? r.network->network : ""},
                                   {"Names", r.name}};
      // Collected, so a template that fails on any row prints nothing.
      lines += (templated ? render_template(o.format, line) : line.dump()) + "\n";
      continue;
    }
    rows.push_back({id, r.spec.image_ref, command_text(r, o.no_trunc), created, status_text(r, now),
                    ports_text(r), r.name});
  }
  if (!o.quiet && o.format != "json" && !templated) {
    print_table(rows);
  }
  fmt::print("{}", lines);
}

void setup_ps(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("ps", "List containers");
  auto o = std::make_shared<PsOptions>();
  cmd->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
  cmd->add_flag("-q,--quiet", o->quiet, "Only display container IDs");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_option("--format", o->format, "Output format: table, json or a Go template");
  cmd->callback([o, &globals] { ps(globals, *o); });
}

GCTOOL_REGISTER_COMMAND(setup_ps);

}  // namespace
}  // namespace gctool::tool
