// `gctool logs [-f] [--tail N|all] [-t] [--since TIME] CONTAINER`: the container's output from its
// log, stdout to stdout and stderr to stderr, as `docker logs` shows it.
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "gctool/container/log_reader.hpp"
#include "gctool/container/log_stream.hpp"
#include "gctool/container/log_writer.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/core/time.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/sync_wait.hpp"

namespace gctool::tool {
namespace {

struct LogsArgs {
  bool follow = false;
  std::string tail = "all";
  bool timestamps = false;
  std::string since;
  std::string container;
};

// The directory of the container named by ref: a full id, a name (with or without Docker's
// leading '/'), or a unique id prefix.
std::filesystem::path find_container(const std::filesystem::path& root, const std::string& ref) {
  const auto containers = root / "containers";
  const std::string name = ref.starts_with('/') ? ref.substr(1) : ref;
  std::vector<std::filesystem::path> by_prefix;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(containers, ec)) {
    const auto config = try_load_json(entry.path() / "config.json");
    if (!config) {
      continue;
    }
    const std::string id = config->value("Id", "");
    std::string container_name = config->value("Name", "");
    if (container_name.starts_with('/')) {
      container_name.erase(0, 1);
    }
    if (id == ref || (!name.empty() && container_name == name)) {
      return entry.path();
    }
    if (!ref.empty() && id.starts_with(ref)) {
      by_prefix.push_back(entry.path());
    }
  }
  if (by_prefix.size() > 1) {
    throw_invalid("multiple containers match the id prefix {}", ref);
  }
  if (by_prefix.empty()) {
    throw_invalid("no such container: {}", ref);
  }
  return by_prefix.front();
}

// Whether the container's process still runs: its pid with the recorded start time, so that a
// reused pid does not count.
bool container_running(const std::filesystem::path& dir) {
  const auto config = try_load_json(dir / "config.json");
  if (!config || !config->contains("State")) {
    return false;
  }
  const auto& state = config->at("State");
  const pid_t pid = state.value("Pid", 0);
  const std::uint64_t start_time = state.value("PidStartTime", std::uint64_t{0});
  return state.value("Status", "") == "running" && pid > 0 && process_matches(pid, start_time);
}

std::optional<std::size_t> parse_tail(const std::string& text) {
  if (text == "all") {
    return std::nullopt;
  }
  long long lines = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), lines);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    throw_invalid("invalid value \"{}\" for --tail: a number or \"all\"", text);
  }
  // Docker takes a negative count as all.
  if (lines < 0) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(lines);
}

void run_logs(const LogsArgs& args, const Globals& globals) {
  container::LogReadOptions options;
  options.tail = parse_tail(args.tail);
  options.timestamps = args.timestamps;
  if (!args.since.empty()) {
    options.since = parse_since(args.since, std::chrono::system_clock::now());
  }
  const auto dir = find_container(globals.root, args.container);
  container::FdLogSink sink{BorrowedFd(STDOUT_FILENO), BorrowedFd(STDERR_FILENO)};
  container::LogReader reader(container::container_log_path(dir), options, sink);
  reader.read_existing();
  if (args.follow) {
    io::Loop loop;
    io::sync_wait(loop,
                  container::follow_log(loop, reader, [&dir] { return container_running(dir); }));
  }
  sink.flush();
}

void setup_logs(CLI::App& app, Globals& globals) {
  auto args = std::make_shared<LogsArgs>();
  auto* cmd = app.add_subcommand("logs", "Fetch the logs of a container");
  cmd->add_flag("-f,--follow", args->follow, "Follow log output");
  cmd->add_option("-n,--tail", args->tail, "Number of lines to show from the end of the logs")
      ->capture_default_str();
  cmd->add_flag("-t,--timestamps", args->timestamps, "Show timestamps");
  cmd->add_option("--since", args->since,
                  "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. "
                  "\"42m\" for 42 minutes)");
  cmd->add_option("CONTAINER", args->container, "Container name or ID")->required();
  cmd->callback([args, &globals] { run_logs(*args, globals); });
}

GCTOOL_REGISTER_COMMAND(setup_logs);

}  // namespace
}  // namespace gctool::tool
