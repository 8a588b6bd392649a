// `gctool-oci ps [--format table|json] ID`: the processes of the container's cgroup.
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../cgroup_setup.hpp"
#include "../command.hpp"
#include "../state.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/proc.hpp"

namespace gctool::oci {
namespace {

struct PsArgs {
  std::string id;
  std::string format = "table";
  std::vector<std::string> ps_args;  // accepted as runc does; the table is always the same
};

std::string command_line(pid_t pid) {
  auto text = try_read_file(fmt::format("/proc/{}/cmdline", pid)).value_or("");
  while (!text.empty() && text.back() == '\0') {
    text.pop_back();
  }
  for (auto& c : text) {
    c = c == '\0' ? ' ' : c;
  }
  return text;
}

std::string owner(pid_t pid) {
  const auto status = try_read_file(fmt::format("/proc/{}/status", pid)).value_or("");
  const auto at = status.find("\nUid:\t");
  return at == std::string::npos ? "?" : status.substr(at + 6, status.find('\t', at + 6) - at - 6);
}

void ps(const Globals& globals, const PsArgs& a) {
  const auto state = load_state(globals.root, a.id);
  const auto pids = cgroup_pids(state.cgroup_path);
  if (a.format == "json") {
    fmt::print("{}\n", nlohmann::json(pids).dump());
    return;
  }
  fmt::print("{:<8} {:>8} {:>8} {}\n", "UID", "PID", "PPID", "CMD");
  for (const pid_t pid : pids) {
    const auto stat = read_proc_stat(pid);
    fmt::print("{:<8} {:>8} {:>8} {}\n", owner(pid), pid, stat ? stat->ppid : 0, command_line(pid));
  }
}

void setup_ps(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("ps", "List the processes of a container");
  auto a = std::make_shared<PsArgs>();
  cmd->add_option("-f,--format", a->format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("id", a->id, "Container ID")->required();
  cmd->add_option("ps_args", a->ps_args, "ps options (ignored)");
  cmd->callback([a, &globals] { ps(globals, *a); });
}

GCTOOL_OCI_COMMAND(setup_ps);

}  // namespace
}  // namespace gctool::oci
