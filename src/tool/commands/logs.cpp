// `gctool logs [-f] [--tail N|all] [-t] [--since TIME] CONTAINER`: the container's output from its
// log, stdout to stdout and stderr to stderr, as `docker logs` shows it.
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/api.hpp"
#include "gctool/container/log_reader.hpp"
#include "gctool/core/error.hpp"
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
  const auto store = open_container_store(globals);
  container::FdLogSink sink{BorrowedFd(STDOUT_FILENO), BorrowedFd(STDERR_FILENO)};
  io::Loop loop;
  io::sync_wait(loop,
                container::api::copy_logs(loop, store, args.container, options, args.follow, sink));
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

GCTOOL_REGISTER_COMMAND(setup_logs, "logs");

}  // namespace
}  // namespace gctool::tool
