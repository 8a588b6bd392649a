// `gctool build [OPTIONS] CONTEXT` (and `image build`): an image from a Dockerfile, as `docker
// build` with BuildKit; `builder prune` empties the build cache. A failed build exits 1, as
// Docker's does; bad flags exit 125.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "gctool/build/builder.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/image/platform.hpp"
#include "gctool/io/signals.hpp"
#include "gctool/sys/sealed_exe.hpp"
#include "image_events.hpp"
#include "image_group.hpp"

namespace gctool::tool {
namespace {

constexpr int kExitBuildFailed = 1;

struct BuildFlags {
  std::vector<std::string> tags;
  std::string file;
  std::vector<std::string> build_args;
  std::string target;
  bool no_cache = false;
  bool pull = false;
  std::string network = "default";
  bool quiet = false;
  std::string progress = "auto";
  std::vector<std::string> labels;
  std::string platform;
  std::string context;
};

build::BuildOptions options_from(const Globals& globals, const BuildFlags& f) {
  build::BuildOptions o;
  o.root = globals.root;
  for (const auto& tag : f.tags) {
    o.tags.push_back(image::parse_reference(tag));
  }
  for (const auto& arg : f.build_args) {
    const auto eq = arg.find('=');
    if (eq == 0) {
      throw_invalid("invalid --build-arg \"{}\": KEY=VALUE", arg);
    }
    if (eq == std::string::npos) {
      o.build_args[arg] = caller_env(arg);  // Docker: a bare name takes the caller's value
    } else {
      o.build_args[arg.substr(0, eq)] = arg.substr(eq + 1);
    }
  }
  for (const auto& label : f.labels) {
    const auto eq = label.find('=');
    if (eq == 0 || eq == std::string::npos) {
      throw_invalid("invalid --label \"{}\": KEY=VALUE", label);
    }
    o.labels[label.substr(0, eq)] = label.substr(eq + 1);
  }
  if (!f.target.empty()) {
    o.target = f.target;
  }
  o.no_cache = f.no_cache;
  o.pull = f.pull;
  o.network = f.network == "default" ? "bridge" : f.network;
  if (o.network != "bridge" && o.network != "host" && o.network != "none") {
    throw_invalid("invalid --network \"{}\": default, bridge, host or none", f.network);
  }
  if (f.progress != "auto" && f.progress != "plain" && f.progress != "tty" &&
      f.progress != "quiet") {
    throw_invalid("invalid --progress \"{}\": auto, plain, tty or quiet", f.progress);
  }
  if (!f.platform.empty() && f.platform != "linux/" + image::host_architecture()) {
    throw_invalid("--platform {}: only the host platform linux/{} can be built", f.platform,
                  image::host_architecture());
  }
  if (f.context.empty()) {
    throw_invalid("\"build\" requires exactly 1 argument: the build context");
  }
  std::error_code ec;
  if (f.context == "-" || std::filesystem::is_regular_file(f.context, ec)) {
    o.dockerfile_name = f.file.empty() ? "Dockerfile" : f.file;  // inside the archive
  } else if (std::filesystem::is_directory(f.context, ec)) {
    o.context = std::filesystem::absolute(f.context);
    const std::string file = f.file.empty() ? (o.context / "Dockerfile").string() : f.file;
    const auto text = try_read_file(file);
    if (!text) {
      throw_invalid("cannot read the Dockerfile {}: no such file", file);
    }
    o.dockerfile = *text;
    o.dockerfile_name = std::filesystem::path(file).filename();
  } else {
    throw_invalid("unable to prepare context: path \"{}\" not found", f.context);
  }
  return o;
}

void build(Globals& globals, const BuildFlags& f) {
  build::BuildOptions o = options_from(globals, f);
  // Build containers start only from a process that runs from a sealed copy of gctool
  // (sys/sealed_exe.hpp), which costs this process a second start. A rebuild that the cache
  // answers starts none: it is tried here first, and the first step the cache lacks re-executes
  // the build sealed, which does it all again (nothing is written before). A context from a tar
  // (extracted anew each time), --no-cache and --pull would miss at once: sealed first.
  if (!sys::self_exe_sealed()) {
    if (o.context.empty() || o.no_cache || o.pull) {
      globals.reexec_sealed = true;
      return;
    }
    o.cached_only = true;
  }
  UniqueFd context_tar;
  if (o.context.empty()) {
    context_tar = open_input(f.context);
    o.context_tar = context_tar;
  }
  const bool quiet = f.quiet || f.progress == "quiet";
  // Held back when quiet (shown on failure only) and while trying the cache (a miss discards
  // them: the sealed build shows its own).
  std::vector<std::string> held;
  o.progress = [&](std::string_view line) {
    if (quiet || o.cached_only) {
      held.emplace_back(line);
    } else {
      fmt::print(stderr, "{}\n", line);
    }
  };
  const auto show_held = [&] {
    for (const auto& line : held) {
      fmt::print(stderr, "{}\n", line);
    }
  };
  // Signals end the build the way a failed step does: its container and files are released.
  io::SignalSet signals({SIGINT, SIGTERM, SIGHUP});
  o.cancel = signals.fd();
  try {
    const auto result = build::build_image(o);
    if (!quiet) {
      show_held();
    }
    for (const auto& warning : result.warnings) {
      if (!quiet) {
        fmt::print(stderr, "WARNING: {}\n", warning);
      }
    }
    fmt::print("{}\n", quiet ? result.image_id : result.image_id);
    // As Docker: one "tag" event for each -t the image now carries.
    for (const auto& tag : o.tags) {
      record_image_event(globals, "tag", result.image_id, tag.str());
    }
  } catch (const build::CacheMiss&) {
    globals.reexec_sealed = true;  // once the signals are unblocked again, on return
  } catch (const build::BuildCancelled&) {
    // Taken from the signalfd, so that it does not kill gctool once unblocked; the exit code is
    // the one a shell shows for a process the signal ended (130 for Ctrl-C).
    const auto info = signals.try_next();
    const int signo = info ? static_cast<int>(info->ssi_signo) : SIGINT;
    std::fflush(stdout);
    if (!quiet) {
      show_held();
    }
    print_error(fmt::format("build cancelled by {}", signo == SIGINT    ? "SIGINT"
                                                     : signo == SIGTERM ? "SIGTERM"
                                                                        : "SIGHUP"));
    globals.exit_code = 128 + signo;
  } catch (const Error& e) {
    std::fflush(stdout);
    show_held();
    print_error(e.what());
    globals.exit_code = kExitBuildFailed;
  }
}

void add_build(CLI::App* cmd, Globals& globals) {
  auto f = std::make_shared<BuildFlags>();
  cmd->add_option("-t,--tag", f->tags, "Name and optionally a tag (name:tag)")
      ->allow_extra_args(false);
  cmd->add_option("-f,--file", f->file, "Name of the Dockerfile (default: CONTEXT/Dockerfile)");
  cmd->add_option("--build-arg", f->build_args, "Set build-time variables (KEY=VALUE)")
      ->allow_extra_args(false);
  cmd->add_option("--target", f->target, "Set the target build stage to build");
  cmd->add_flag("--no-cache", f->no_cache, "Do not use cache when building the image");
  cmd->add_flag("--pull", f->pull, "Always attempt to pull a newer version of the image");
  cmd->add_option("--network", f->network,
                  "Networking mode for the RUN instructions: default, none, host");
  cmd->add_flag("-q,--quiet", f->quiet, "Suppress the build output and print image ID on success");
  cmd->add_option("--progress", f->progress, "Type of progress output: auto, plain, tty, quiet");
  cmd->add_option("--label", f->labels, "Set metadata for an image")->allow_extra_args(false);
  cmd->add_option("--platform", f->platform, "Set platform (the host's only)");
  cmd->add_option("context", f->context, "PATH, a tar file, or - for a tar on stdin");
  cmd->callback([f, &globals] { build(globals, *f); });
}

void setup_build(CLI::App& app, Globals& globals) {
  add_build(app.add_subcommand("build", "Build an image from a Dockerfile"), globals);
  add_build(image_group(app)->add_subcommand("build", "Build an image from a Dockerfile"), globals);
  auto* builder = app.add_subcommand("builder", "Manage builds");
  builder->require_subcommand(1);
  auto* prune = builder->add_subcommand("prune", "Remove build cache");
  static bool force = false;
  static bool all = false;
  prune->add_flag("-f,--force", force, "Do not prompt for confirmation");
  prune->add_flag("-a,--all", all, "Remove all unused build cache (the default here)");
  prune->callback([&globals] {
    const int n = build::prune_build_cache(globals.root);
    fmt::print("Total reclaimed: {} cache entries\n", n);
  });
}

GCTOOL_REGISTER_COMMAND(setup_build, "build", "image", "builder");

}  // namespace
}  // namespace gctool::tool
