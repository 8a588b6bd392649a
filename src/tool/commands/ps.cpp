// `gctool ps [-a] [-q] [-s] [-n N|-l] [--no-trunc] [--filter K=V] [--format F]`: the
// containers, as `docker ps` lists them.
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "container_columns.hpp"
#include "container_store.hpp"
#include "filters.hpp"
#include "gctool/container/health.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/time.hpp"
#include "gctool/core/units.hpp"
#include "gctool/image/store.hpp"
#include "gctool/net/network.hpp"
#include "list_format.hpp"

namespace gctool::tool {
namespace {

using Clock = std::chrono::system_clock;

struct PsOptions {
  bool all = false;
  bool quiet = false;
  bool no_trunc = false;
  bool size = false;
  bool latest = false;
  int last = -1;
  std::vector<std::string> filters;
  std::string format;
};

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

// Bytes of the files under dir (not following links); 0 when it is gone.
std::int64_t tree_size(const std::filesystem::path& dir) {
  std::int64_t total = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const auto status = it->symlink_status(ec);
    if (!ec && std::filesystem::is_regular_file(status)) {
      total += static_cast<std::int64_t>(it->file_size(ec));
    }
  }
  return total;
}

// Docker's SIZE: what the container wrote, and with its image.
std::string size_text(const Globals& globals, const container::Record& r,
                      const image::ImageStore& images) {
  const auto written =
      tree_size(std::filesystem::path(globals.root) / "containers" / r.id / "upper");
  const auto image = images.try_resolve(r.spec.image_id);
  const auto virtual_size = written + (image ? static_cast<std::int64_t>(image->size) : 0);
  return fmt::format("{} (virtual {})", format_bytes(written), format_bytes(virtual_size));
}

constexpr std::string_view kStatuses[] = {"created", "restarting", "running", "removing",
                                          "paused",  "exited",     "dead"};

// The container a before= or since= filter names, as its position in creation order.
std::size_t position_of(const std::vector<container::Record>& records, const std::string& ref) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].name == ref || records[i].id == ref ||
        (ref.size() >= 3 && records[i].id.starts_with(ref))) {
      return i;
    }
  }
  throw_invalid("no such container: {}", ref);
}

class PsFilter {
 public:
  PsFilter(const Globals& globals, const std::vector<std::string>& args,
           const std::vector<container::Record>& records)
      : globals_(globals),
        filters_(parse_filters(args, {"id", "name", "label", "status", "exited", "ancestor",
                                      "network", "volume", "before", "since", "health"})) {
    for (const auto& health : filter_values(filters_, "health")) {
      if (health != "starting" && health != "healthy" && health != "unhealthy" &&
          health != "none") {
        throw_invalid("Unrecognised filter value for health: {}", health);
      }
    }
    for (const auto& status : filter_values(filters_, "status")) {
      if (std::find(std::begin(kStatuses), std::end(kStatuses), status) == std::end(kStatuses)) {
        throw_invalid("invalid filter 'status={}'", status);
      }
    }
    for (const auto& code : filter_values(filters_, "exited")) {
      int value = 0;
      const auto [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), value);
      if (ec != std::errc() || ptr != code.data() + code.size()) {
        throw_invalid("invalid filter 'exited={}'", code);
      }
      exited_.push_back(value);
    }
    const image::ImageStore images(globals.root);
    for (const auto& ref : filter_values(filters_, "ancestor")) {
      ancestors_.push_back(ref);
      if (auto image = images.try_resolve(ref)) {
        ancestors_.push_back(image->id);
      }
    }
    for (const auto& ref : filter_values(filters_, "network")) {
      networks_.push_back(ref);
      if (auto network = net::try_find_network(globals.root, ref)) {
        networks_.push_back(network->name);
      }
    }
    for (const auto& ref : filter_values(filters_, "before")) {
      before_ = std::min(before_.value_or(records.size()), position_of(records, ref));
    }
    for (const auto& ref : filter_values(filters_, "since")) {
      since_ = std::max(since_.value_or(0), position_of(records, ref));
    }
  }

  // Docker: a status filter lists stopped containers without -a.
  bool implies_all() const { return filters_.count("status") > 0; }

  // position: the record's index in creation order.
  bool accepts(const container::Record& r, std::size_t position) const {
    if ((before_ && position >= *before_) || (since_ && position <= *since_)) {
      return false;
    }
    if (filters_.empty()) {
      return true;
    }
    const auto status = std::string(status_name(r.state));
    const nlohmann::json labels(r.spec.labels);
    return filter_accepts(filters_, "id", [&](const auto& v) { return r.id.starts_with(v); }) &&
           filter_accepts(filters_, "name",
                          [&](const auto& v) { return filter_match(v, "/" + r.name); }) &&
           filter_accepts(filters_, "label",
                          [&](const auto& v) { return label_matches(v, labels); }) &&
           filter_accepts(filters_, "status", [&](const auto& v) { return v == status; }) &&
           (exited_.empty() ||
            (r.state.status == container::Status::exited &&
             std::find(exited_.begin(), exited_.end(), r.state.exit_code) != exited_.end())) &&
           (ancestors_.empty() || std::any_of(ancestors_.begin(), ancestors_.end(),
                                              [&](const auto& a) {
                                                return a == r.spec.image_ref ||
                                                       a == r.spec.image_id ||
                                                       r.spec.image_ref == a + ":latest";
                                              })) &&
           (networks_.empty() ||
            std::find(networks_.begin(), networks_.end(),
                      container::network_name_of(r.spec.network_mode)) != networks_.end()) &&
           filter_accepts(filters_, "volume",
                          [&](const auto& v) {
                            return std::any_of(
                                r.spec.binds.begin(), r.spec.binds.end(), [&](const auto& b) {
                                  return b.volume == v || b.destination == v || b.source == v;
                                });
                          }) &&
           filter_accepts(filters_, "health",
                          [&](const auto& v) { return v == health_of(globals_.root, r); });
  }

 private:
  const Globals& globals_;
  Filters filters_;
  std::vector<int> exited_;
  std::vector<std::string> ancestors_;
  std::vector<std::string> networks_;
  std::optional<std::size_t> before_;
  std::optional<std::size_t> since_;
};

std::string mounts_text(const container::Record& r) {
  std::string text;
  for (const auto& b : r.spec.binds) {
    text += (text.empty() ? "" : ",") + (b.volume.empty() ? b.source : b.volume);
  }
  return text;
}

const ListColumns& ps_columns(bool size) {
  static const nlohmann::json kHeaders = {
      {"ID", "CONTAINER ID"},    {"Image", "IMAGE"},
      {"Command", "COMMAND"},    {"CreatedAt", "CREATED AT"},
      {"RunningFor", "CREATED"}, {"Ports", "PORTS"},
      {"State", "STATE"},        {"Status", "STATUS"},
      {"Size", "SIZE"},          {"Names", "NAMES"},
      {"Labels", "LABELS"},      {"Mounts", "MOUNTS"},
      {"Networks", "NETWORKS"},  {"LocalVolumes", "LOCAL VOLUMES"}};
  static const ListColumns kTable{
      "table "
      "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
      kHeaders};
  static const ListColumns kSized{kTable.default_table + "\t{{.Size}}", kHeaders};
  return size ? kSized : kTable;
}

// Every field a --format template may name.
nlohmann::json row_json(const Globals& globals, const container::Record& r, const PsOptions& o,
                        const image::ImageStore& images, Clock::time_point now) {
  return {{"ID", o.no_trunc ? r.id : short_id(r.id)},
          {"Image", r.spec.image_ref},
          {"Command", command_text(r, o.no_trunc)},
          {"CreatedAt", r.created},
          {"RunningFor", ago(r.created, now) + " ago"},
          {"State", status_name(r.state)},
          {"Status", status_text(globals.root, r, now)},
          {"Ports", ports_text(r)},
          {"Networks",
           r.network ? r.network->network : container::network_name_of(r.spec.network_mode)},
          {"Names", r.name},
          {"Labels", join_labels(nlohmann::json(r.spec.labels))},
          {"Mounts", mounts_text(r)},
          {"LocalVolumes",
           std::to_string(std::count_if(r.spec.binds.begin(), r.spec.binds.end(),
                                        [](const auto& b) { return !b.volume.empty(); }))},
          {"Size", o.size ? size_text(globals, r, images) : ""}};
}

// The default table without a JSON row and a template per container (most of the time of `ps`
// with many containers went there): the same cells as ps_columns' default template, in order.
std::string default_table(const Globals& globals, const std::vector<const container::Record*>& rows,
                          const PsOptions& o, const image::ImageStore& images,
                          Clock::time_point now) {
  std::string text = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES";
  text += o.size ? "\tSIZE\n" : "\n";
  for (const auto* r : rows) {
    fmt::format_to(std::back_inserter(text), "{}\t{}\t{}\t{} ago\t{}\t{}\t{}",
                   o.no_trunc ? r->id : short_id(r->id), r->spec.image_ref,
                   command_text(*r, o.no_trunc), ago(r->created, now),
                   status_text(globals.root, *r, now), ports_text(*r), r->name);
    if (o.size) {
      text += '\t';
      text += size_text(globals, *r, images);
    }
    text += '\n';
  }
  return tabwrite(text);
}

void ps(const Globals& globals, const PsOptions& o) {
  const auto store = open_container_store(globals);
  const auto records =
      container::list_containers(store, container::ContainerStore::Detail::listing);
  const PsFilter filter(globals, o.filters, records);
  const int limit = o.latest ? 1 : o.last;
  const bool all = o.all || filter.implies_all() || limit > 0;
  // Checked before any output, so a bad template prints nothing.
  if (!o.quiet && !o.format.empty()) {
    render_list(o.format, ps_columns(o.size), {});
  }
  std::vector<const container::Record*> selected;
  // Newest first, as Docker.
  for (std::size_t k = records.size(); k-- > 0;) {
    const auto& r = records[k];
    // As Docker: a restarting container is listed with the running ones.
    if (!all && !r.running() && r.state.status != container::Status::restarting) {
      continue;
    }
    if (!filter.accepts(r, k)) {
      continue;
    }
    if (limit > 0 && static_cast<int>(selected.size()) >= limit) {
      break;
    }
    selected.push_back(&r);
  }
  if (o.quiet) {
    std::string text;
    for (const auto* r : selected) {
      text += o.no_trunc ? r->id : short_id(r->id);
      text += '\n';
    }
    fmt::print("{}", text);
    return;
  }
  const image::ImageStore images(globals.root);
  const auto now = Clock::now();
  if (o.format.empty() || o.format == "table") {
    fmt::print("{}", default_table(globals, selected, o, images, now));
    return;
  }
  std::vector<nlohmann::json> rows;
  rows.reserve(selected.size());
  for (const auto* r : selected) {
    rows.push_back(row_json(globals, *r, o, images, now));
  }
  fmt::print("{}", render_list(o.format, ps_columns(o.size), rows));
}

void setup_ps(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("ps", "List containers");
  auto o = std::make_shared<PsOptions>();
  cmd->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
  cmd->add_flag("-q,--quiet", o->quiet, "Only display container IDs");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_flag("-s,--size", o->size, "Display total file sizes");
  cmd->add_flag("-l,--latest", o->latest,
                "Show the latest created container (includes all states)");
  cmd->add_option("-n,--last", o->last, "Show n last created containers (includes all states)");
  cmd->add_option("-f,--filter", o->filters,
                  "Filter output: id, name, label, status, exited, ancestor, network, volume, "
                  "before, since, health (KEY=VALUE)")
      ->allow_extra_args(false);
  cmd->add_option("--format", o->format,
                  "Output format: table, table TEMPLATE, json or a Go template");
  cmd->callback([o, &globals] { ps(globals, *o); });
}

GCTOOL_REGISTER_COMMAND(setup_ps, "ps");

}  // namespace
}  // namespace gctool::tool
