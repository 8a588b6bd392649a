// gctool-oci: an OCI runtime with runc's command line (runtime-spec runtime.md), over the same
// library as `gctool run`. Failures print `gctool-oci: <message>` on stderr, go to the --log
// file as runc's log lines, and exit 1 as runc does.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "config.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"
#include "gctool/core/time.hpp"
#include "gctool/sys/sealed_exe.hpp"

namespace gctool::oci {

std::vector<CommandSetup>& command_registry() {
  static std::vector<CommandSetup> registry;
  return registry;
}

void log_line(const Globals& g, const std::string& level, const std::string& message) {
  if (g.log.empty()) {
    return;
  }
  const auto now = format_rfc3339_nano(std::chrono::system_clock::now());
  std::string line;
  if (g.log_format == "json") {
    line = nlohmann::json{{"level", level}, {"msg", message}, {"time", now}}.dump() + "\n";
  } else {
    line = fmt::format("time=\"{}\" level={} msg={}\n", now, level, nlohmann::json(message).dump());
  }
  const int fd = ::open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    [[maybe_unused]] const auto n = ::write(fd, line.data(), line.size());
    ::close(fd);
  }
}

namespace {

std::string_view verb_of(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--root" || arg == "--log" || arg == "--log-format" || arg == "--criu" ||
        arg == "--rootless") {
      ++i;
    } else if (!arg.starts_with('-')) {
      return arg;
    }
  }
  return {};
}

int fail(const Globals& g, const std::string& message) {
  std::fflush(stdout);
  log_line(g, "error", message);
  fmt::print(stderr, "gctool-oci: {}\n", printable(message));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Globals globals;
  const std::string_view verb = verb_of(argc, argv);
  // Processes that enter a container run from a sealed copy of the binary (CVE-2019-5736).
  if (verb == "create" || verb == "run" || verb == "exec") {
    try {
      sys::reexec_sealed(argv);
    } catch (const Error& e) {
      return fail(globals, e.what());
    }
  }
  CLI::App app{"gctool-oci: an OCI runtime (runc's command line) built on gctool's library",
               "gctool-oci"};
  app.set_version_flag(
      "-v,--version", fmt::format("gctool-oci version {}\nspec: {}", GCTOOL_VERSION, kSpecVersion));
  app.add_option("--root", globals.root, "Where container state lives")->capture_default_str();
  app.add_option("--log", globals.log, "Log file (errors and warnings)");
  app.add_option("--log-format", globals.log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--systemd-cgroup", globals.systemd_cgroup,
               "Accepted for compatibility: cgroupsPath \"slice:prefix:name\" is always read as "
               "<slice>/<prefix>-<name>.scope in cgroupfs; systemd is never asked to create it");
  app.add_flag("--debug", globals.debug, "Log debug messages too");
  std::string ignored;
  app.add_option("--criu", ignored, "Ignored (no checkpoint support)");
  app.add_option("--rootless", ignored, "Ignored (gctool-oci runs as root)");
  app.require_subcommand(1);
  for (auto setup : command_registry()) {
    setup(app, globals);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::string what = e.what();
    return fail(globals, what.substr(0, what.find('\n')));
  } catch (const std::exception& e) {
    return fail(globals, e.what());
  }
  return globals.exit_code;
}

}  // namespace gctool::oci

int main(int argc, char** argv) {
  return gctool::oci::main(argc, argv);
}
