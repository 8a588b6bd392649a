// gctool: the CLI. Parses global flags, lets every registered verb add its subcommand, runs the
// chosen one, and turns any failure into one line `gctool: <message>` with exit code 125.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "args.hpp"
#include "command.hpp"
#include "gctool/cgroup/migration_warmup.hpp"
#include "gctool/container/health.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/supervisor.hpp"
#include "gctool/core/error.hpp"
#include "gctool/net/resolver.hpp"
#include "gctool/sys/sealed_exe.hpp"
#include "multi_container.hpp"
#include "usage.hpp"

namespace gctool::tool {

std::vector<Command>& command_registry() {
  static std::vector<Command> registry;
  return registry;
}

namespace {

int fail(const std::string& message) {
  std::fflush(stdout);
  print_error(message);
  return kExitToolError;
}

// CLI11 messages can span lines; the first line names what was wrong.
std::string first_line(const std::string& text) {
  const auto nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

// One line, with Docker's pointer to the verb's help (or its usage line, where that says more).
int fail_usage(const UsageError& e) {
  if (e.show_usage) {
    return fail(fmt::format("{} (usage: {})", e.message, usage_line(e.app)));
  }
  return fail(fmt::format("{} (see '{} --help')", e.message, command_path(e.app)));
}

// The small program detached containers' supervisors exec (see use_supervisor_helper), next to
// this executable in a build tree, or in ../libexec/gctool once installed.
void find_supervisor_helper() {
  std::filesystem::path self;
  try {
    self = sys::host_executable();
  } catch (const Error&) {
    return;
  }
  const auto dir = self.parent_path();
  for (const auto& helper : {dir / "gctool-supervisor",
                             dir.parent_path() / "libexec" / "gctool" / "gctool-supervisor"}) {
    if (::access(helper.c_str(), X_OK) == 0) {
      container::use_supervisor_helper(helper);
      break;
    }
  }
  for (const auto& helper :
       {dir / "gctool-resolver", dir.parent_path() / "libexec" / "gctool" / "gctool-resolver"}) {
    if (::access(helper.c_str(), X_OK) == 0) {
      net::use_resolver_helper(helper);
      break;
    }
  }
  for (const auto& helper :
       {dir / "gctool-init", dir.parent_path() / "libexec" / "gctool" / "gctool-init"}) {
    if (::access(helper.c_str(), X_OK) == 0) {
      container::use_init_helper(helper);
      break;
    }
  }
}

// The verb: the first word that is neither --root nor its value, nor (with past_flags) another
// flag; empty without one. Without past_flags, a flag such as --help before the verb is the
// root's (whose output names every verb) and is returned instead.
std::string_view verb_of(int argc, char** argv, bool past_flags = true) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--root") {
      ++i;
    } else if (!arg.starts_with("--root=") && !(past_flags && arg.starts_with('-'))) {
      return arg;
    }
  }
  return {};
}

// The verbs whose process becomes a container's init or exec'd process until their execve.
// `build` (and `image build`) re-executes itself only when a step must run (Globals).
bool starts_container_processes(std::string_view verb) {
  return verb == "run" || verb == "start" || verb == "restart" || verb == "exec" ||
         verb == container::kSuperviseExitedVerb || verb == container::kHealthExecVerb;
}

bool adds(const Command& command, std::string_view verb) {
  return std::ranges::find(command.verbs, verb) != command.verbs.end();
}

// The top-level words and how many subcommands each holds: what a setup function changed.
std::map<std::string, std::size_t> tree_shape(const CLI::App& app) {
  std::map<std::string, std::size_t> shape;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    shape[sub->get_name()] = sub->get_subcommands([](const CLI::App*) { return true; }).size();
  }
  return shape;
}

// Sets up only the commands that add `verb` when it names one (CLI11's options for every verb
// cost `gctool run` about 6M instructions); otherwise (no verb, an unknown word, a verb such as
// `help` that reads the others) all of them, checking that each declared the words it adds, so
// that setting up one verb cannot miss a part of it.
void setup_commands(CLI::App& app, Globals& globals, std::string_view verb) {
  const auto& registry = command_registry();
  const bool one_verb =
      std::ranges::any_of(registry, [&](const Command& c) { return adds(c, verb); }) &&
      std::ranges::none_of(registry,
                           [&](const Command& c) { return c.whole_tree && adds(c, verb); });
  auto before = tree_shape(app);
  for (const auto& command : registry) {
    if (one_verb) {
      if (adds(command, verb)) {
        command.setup(app, globals);
      }
      continue;
    }
    command.setup(app, globals);
    auto after = tree_shape(app);
    for (const auto& [word, size] : after) {
      const auto old = before.find(word);
      if ((old == before.end() || old->second != size) && !adds(command, word)) {
        throw Error::invalid(
            fmt::format("internal: a command adds \"{}\" without registering it", word));
      }
    }
    before = std::move(after);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else (no thread, nothing to lose): such a process runs from a sealed copy of
  // gctool, which a container cannot write through /proc/self/exe (see sys/sealed_exe.hpp).
  const std::string_view verb = verb_of(argc, argv);
  if (starts_container_processes(verb)) {
    try {
      sys::reexec_sealed(argv);
    } catch (const Error& e) {
      return fail(e.what());
    }
  }
  // Verbs that move a process into a container's cgroup begin the kernel's wait before a cgroup
  // v1 move first of all (see MigrationWarmup): loading, parsing and the rest then overlap it.
  const auto warmup = verb == "run" || verb == "start" || verb == "exec"
                          ? cgroup::MigrationWarmup::start()
                          : cgroup::MigrationWarmup();
  find_supervisor_helper();
  if (argc > 1 && argv[1] == container::kSuperviseExitedVerb) {
    container::resume_supervisor(argc, argv);
  }
  if (argc > 1 && argv[1] == container::kHealthExecVerb) {
    container::run_health_exec(argc, argv);
  }
  CLI::App app{"gctool: a small, fast, safe container runtime", "gctool"};
  Globals globals;
  app.set_version_flag("-v,--version", fmt::format("gctool version {}", GCTOOL_VERSION));
  // Absolute: paths under it reach processes that run elsewhere (a container's init after its
  // chroot, the supervisor), where a relative one would name something else or nothing.
  app.add_option("--root", globals.root, "Root directory of gctool's state")
      ->envname("GCTOOL_ROOT")
      ->capture_default_str()
      ->transform([](const std::string& root) {
        return root.empty() ? root : std::filesystem::absolute(root).string();
      });
  app.formatter(usage_formatter());
  app.require_subcommand(1);
  app.fallthrough(false);
  try {
    setup_commands(app, globals, verb_of(argc, argv, false));
  } catch (const Error& e) {
    return fail(e.what());
  }
  CheckedArgs args;
  try {
    args = check_args(app, std::vector<std::string>(argv, argv + argc));
  } catch (const UsageError& e) {
    return fail_usage(e);
  }
  std::vector<char*> words;
  for (auto& word : args.words) {
    words.push_back(word.data());
  }
  try {
    app.parse(static_cast<int>(words.size()), words.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (argc <= 1) {
      fmt::print(stderr, "{}", app.help());
    }
    if (args.verb->get_parent() == nullptr) {
      return fail(first_line(e.what()));
    }
    return fail_usage({first_line(e.what()), args.verb});
  } catch (const Error& e) {
    // As Docker's daemon errors: a container that does not exist or does not run exits 1.
    if (is_container_state_error(e)) {
      fail(e.what());
      return 1;
    }
    return fail(e.what());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  if (globals.reexec_sealed) {
    try {
      std::fflush(stdout);
      sys::reexec_sealed(argv);
    } catch (const Error& e) {
      return fail(e.what());
    }
  }
  return globals.exit_code;
}

}  // namespace gctool::tool

int main(int argc, char** argv) {
  return gctool::tool::main(argc, argv);
}
