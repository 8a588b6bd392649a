// `gctool stats [-a] [--no-stream] [--no-trunc] [--format F] [CONTAINER...]`: Docker's live table
// of CPU %, memory, network and block I/O and pids, refreshed every second on the io_uring loop
// (each refresh clears the screen, as Docker's); --no-stream prints one table and exits.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/stats.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/sleep.hpp"
#include "gctool/io/sync_wait.hpp"
#include "list_format.hpp"

namespace gctool::tool {
namespace {

using namespace std::chrono_literals;

struct StatsArgs {
  bool all = false;
  bool no_stream = false;
  bool no_trunc = false;
  std::string format;
  std::vector<std::string> refs;
};

const ListColumns kStatsColumns{
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
    "\t{{.PIDs}}",
    {{"ID", "CONTAINER ID"},
     {"Container", "CONTAINER"},
     {"Name", "NAME"},
     {"CPUPerc", "CPU %"},
     {"MemUsage", "MEM USAGE / LIMIT"},
     {"MemPerc", "MEM %"},
     {"NetIO", "NET I/O"},
     {"BlockIO", "BLOCK I/O"},
     {"PIDs", "PIDS"}}};

// Docker's units.CustomSize: divide by base while it is that large, then `digits` significant
// digits: BytesSize is base 1024 with 4 ("1.5MiB"), HumanSizeWithPrecision base 1000 with 3.
std::string size_text(std::uint64_t bytes, double base, int digits, bool binary) {
  static constexpr std::string_view decimal[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  static constexpr std::string_view binary_units[] = {"B",   "KiB", "MiB", "GiB",
                                                      "TiB", "PiB", "EiB"};
  auto size = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (size >= base && unit + 1 < std::size(decimal)) {
    size /= base;
    ++unit;
  }
  return fmt::format("{:.{}g}{}", size, digits, binary ? binary_units[unit] : decimal[unit]);
}

std::string io_pair(std::uint64_t in, std::uint64_t out) {
  return fmt::format("{} / {}", size_text(in, 1000, 3, false), size_text(out, 1000, 3, false));
}

// One container being watched: the ref as given (Docker's .Container), its record and the
// sample before the current one.
struct Watched {
  std::string ref;
  container::Record record;
  container::Usage last;
};

nlohmann::json row(const Watched& w, const container::Usage& now, bool no_trunc) {
  const double mem_percent =
      now.memory_limit == 0 || !now.running
          ? 0.0
          : 100.0 * static_cast<double>(now.memory) / static_cast<double>(now.memory_limit);
  const auto limit = now.running ? now.memory_limit : 0;
  return {
      {"ID", no_trunc ? w.record.id : short_id(w.record.id)},
      {"Container", w.ref},
      {"Name", w.record.name},
      {"CPUPerc", fmt::format("{:.2f}%", container::cpu_percent(w.last, now))},
      {"MemUsage", fmt::format("{} / {}", size_text(now.memory, 1024, 4, true),
                               size_text(limit, 1024, 4, true))},
      {"MemPerc", fmt::format("{:.2f}%", mem_percent)},
      {"NetIO", io_pair(now.net_rx, now.net_tx)},
      {"BlockIO", io_pair(now.block_read, now.block_write)},
      {"PIDs", std::to_string(now.pids)},
  };
}

// The containers to show: those named (each must exist), else the running ones (all with -a),
// keeping the last sample of those already watched.
std::vector<Watched> watch_list(const container::ContainerStore& store, const StatsArgs& a,
                                std::vector<Watched> previous) {
  std::vector<Watched> out;
  const auto keep = [&](std::string ref, container::Record record) {
    Watched w{std::move(ref), std::move(record), {}};
    for (auto& old : previous) {
      if (old.record.id == w.record.id) {
        w.last = old.last;
      }
    }
    out.push_back(std::move(w));
  };
  if (!a.refs.empty()) {
    for (const auto& ref : a.refs) {
      keep(ref, container::inspect_container(store, ref));
    }
    return out;
  }
  for (auto& record : container::list_containers(store)) {
    if (a.all || record.running()) {
      const auto ref = short_id(record.id);
      keep(ref, std::move(record));
    }
  }
  return out;
}

io::Task<void> show(io::Loop& loop, const container::ContainerStore& store, const StatsArgs& a) {
  auto watched = watch_list(store, a, {});
  for (auto& w : watched) {
    w.last = container::sample_usage(w.record);
  }
  for (;;) {
    // Docker's first figures too cover about a second.
    co_await io::sleep(loop, 1s);
    watched = watch_list(store, a, std::move(watched));
    std::vector<nlohmann::json> rows;
    for (auto& w : watched) {
      const auto now = container::sample_usage(w.record);
      rows.push_back(row(w, now, a.no_trunc));
      w.last = now;
    }
    const auto text = render_list(a.format, kStatsColumns, rows);
    if (!a.no_stream) {
      std::fputs("\033[2J\033[H", stdout);
    }
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (a.no_stream) {
      co_return;
    }
  }
}

void stats(Globals& globals, const StatsArgs& a) {
  // A bad template is bad input: exit 125 before anything is read.
  (void)render_list(a.format, kStatsColumns, {});
  const auto store = open_container_store(globals);
  with_daemon_exit_code(globals, [&] {
    for (const auto& ref : a.refs) {
      (void)container::inspect_container(store, ref);
    }
    io::Loop loop;
    io::sync_wait(loop, show(loop, store, a));
  });
}

void setup_stats(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("stats", "Display a live stream of container(s) resource usage");
  auto a = std::make_shared<StatsArgs>();
  cmd->add_flag("-a,--all", a->all, "Show all containers (default shows just running)");
  cmd->add_flag("--no-stream", a->no_stream, "Disable streaming stats and only pull the first");
  cmd->add_flag("--no-trunc", a->no_trunc, "Do not truncate output");
  cmd->add_option("--format", a->format, "Format output using a custom template");
  cmd->add_option("containers", a->refs, "Container names or IDs");
  cmd->callback([a, &globals] { stats(globals, *a); });
}

GCTOOL_REGISTER_COMMAND(setup_stats, "stats");

}  // namespace
}  // namespace gctool::tool
