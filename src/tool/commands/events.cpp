// `gctool events [--since TIME] [--until TIME] [-f FILTER] [--format FORMAT]`: the events of
// containers, images, networks and volumes from the root's journal (core/event_journal.hpp), as
// `docker events` shows them. Without --until it follows new events until interrupted; with
// --until it stops at that time. Following waits on inotify through the loop.
#include <sys/inotify.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>

#include <fmt/format.h>

#include "command.hpp"
#include "container_store.hpp"
#include "filters.hpp"
#include "gctool/core/event_journal.hpp"
#include "gctool/core/json_template.hpp"
#include "gctool/core/time.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/rw.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/timeout.hpp"

namespace gctool::tool {
namespace {

using Clock = std::chrono::system_clock;

// A missed notification (a file system without inotify) costs at most this much delay.
constexpr std::chrono::seconds kRecheck{1};

struct EventsArgs {
  std::string since;
  std::string until;
  std::vector<std::string> filters;
  std::string format;
};

std::string attribute(const nlohmann::json& message, const std::string& key) {
  const auto& attributes = message["Actor"]["Attributes"];
  return attributes.contains(key) && attributes[key].is_string()
             ? attributes[key].get<std::string>()
             : "";
}

// Docker's FuzzyMatch: equal, or a prefix of the value.
bool fuzzy(const std::string& wanted, const std::string& value) {
  return !value.empty() && value.starts_with(wanted);
}

// "busybox" and "busybox:latest" name the same image.
bool same_image(const std::string& wanted, const std::string& value) {
  const auto with_tag = [](const std::string& ref) {
    const auto slash = ref.rfind('/');
    const auto colon = ref.rfind(':');
    const bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
    return tagged || ref.find('@') != std::string::npos ? ref : ref + ":latest";
  };
  return !value.empty() &&
         (wanted == value || with_tag(wanted) == with_tag(value) ||
          (value.starts_with("sha256:") && fuzzy(wanted, value.substr(7))) || fuzzy(wanted, value));
}

// Docker's events filter: each key present must match, any of its values.
bool matches(const Filters& filters, const nlohmann::json& message) {
  const auto type = message.value("Type", "");
  const auto action = message.value("Action", "");
  const auto id = message["Actor"].value("ID", "");
  const auto name = attribute(message, "name");
  const auto named = [&](const std::string& key) {
    return filter_accepts(filters, key, [&](const std::string& v) {
      return type == key && (fuzzy(v, id) || v == name);
    });
  };
  return filter_accepts(filters, "type", [&](const std::string& v) { return v == type; }) &&
         filter_accepts(filters, "event",
                        [&](const std::string& v) {
                          return v == action || v == action.substr(0, action.find(':'));
                        }) &&
         named("container") && named("network") && named("volume") &&
         filter_accepts(filters, "image",
                        [&](const std::string& v) {
                          return same_image(v, attribute(message, "image")) ||
                                 (type == "image" && (same_image(v, id) || same_image(v, name)));
                        }) &&
         filter_accepts(filters, "label", [&](const std::string& v) {
           return label_matches(v, message["Actor"]["Attributes"]);
         });
}

Clock::time_point time_of(const nlohmann::json& message) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(message.value("timeNano", std::int64_t{0}))));
}

// Docker's default line: `<time> <type> <action> <id> (k=v, ...)`.
std::string default_line(const nlohmann::json& message) {
  std::string attributes;
  for (const auto& [key, value] : message["Actor"]["Attributes"].items()) {
    attributes += fmt::format("{}{}={}", attributes.empty() ? "" : ", ", key,
                              value.is_string() ? value.get<std::string>() : value.dump());
  }
  return fmt::format("{} {} {} {}{}", format_rfc3339_nano(time_of(message)),
                     message.value("Type", ""), message.value("Action", ""),
                     message["Actor"].value("ID", ""),
                     attributes.empty() ? "" : fmt::format(" ({})", attributes));
}

// The template's view: Docker's JSON keys, and the Go field names of its events.Message.
nlohmann::json template_data(const nlohmann::json& message) {
  auto data = message;
  for (const auto& [from, to] : {std::pair{"status", "Status"}, std::pair{"id", "ID"},
                                 std::pair{"from", "From"}, std::pair{"scope", "Scope"},
                                 std::pair{"time", "Time"}, std::pair{"timeNano", "TimeNano"}}) {
    if (message.contains(from)) {
      data[to] = message[from];
    }
  }
  return data;
}

class Printer {
 public:
  Printer(std::string format, Filters filters, std::optional<Clock::time_point> since,
          std::optional<Clock::time_point> until)
      : filters_(std::move(filters)), since_(since), until_(until) {
    for (auto at = format.find("\\t"); at != std::string::npos; at = format.find("\\t", at + 1)) {
      format.replace(at, 2, "\t");
    }
    json_ = format == "json" || format == "{{json .}}";
    if (!json_ && !format.empty()) {
      check_template(format);
    }
    format_ = std::move(format);
  }

  void print(const std::vector<nlohmann::json>& messages) {
    std::string text;
    for (const auto& message : messages) {
      // A line of another shape (written by hand) is not an event.
      if (!message.contains("Actor") || !message["Actor"].is_object() ||
          !message["Actor"].contains("Attributes") || !message["Actor"]["Attributes"].is_object()) {
        continue;
      }
      const auto time = time_of(message);
      if ((since_ && time < *since_) || (until_ && time > *until_) || !matches(filters_, message)) {
        continue;
      }
      if (json_) {
        text += message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      } else if (format_.empty()) {
        text += default_line(message);
      } else {
        text += render_template(format_, template_data(message));
      }
      text += '\n';
    }
    fmt::print("{}", text);
    std::fflush(stdout);
  }

 private:
  Filters filters_;
  std::optional<Clock::time_point> since_;
  std::optional<Clock::time_point> until_;
  std::string format_;
  bool json_ = false;
};

// Prints what is appended to the journal, waking on inotify, until `until` has passed.
io::Task<void> follow(io::Loop& loop, BorrowedFd inotify, EventJournalReader& reader,
                      Printer& printer, std::optional<Clock::time_point> until) {
  alignas(inotify_event) char buffer[4096];
  for (;;) {
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(kRecheck);
    if (until) {
      const auto left = *until - Clock::now();
      if (left <= Clock::duration::zero()) {
        printer.print(reader.read_new());
        co_return;
      }
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    }
    try {
      co_await io::with_timeout(loop, io::read(loop, inotify, std::span<char>(buffer)), wait);
    } catch (const io::TimedOut&) {
      // Looked at anyway below.
    }
    printer.print(reader.read_new());
  }
}

void events(const Globals& globals, const EventsArgs& args) {
  const auto filters = parse_filters(
      args.filters, {"container", "event", "image", "label", "network", "type", "volume"});
  for (auto [it, end] = filters.equal_range("type"); it != end; ++it) {
    static const std::vector<std::string> kTypes = {"container", "image", "network", "volume"};
    if (std::find(kTypes.begin(), kTypes.end(), it->second) == kTypes.end()) {
      throw_invalid("invalid filter 'type={}'", it->second);
    }
  }
  const auto now = Clock::now();
  const auto since =
      args.since.empty() ? std::optional(now) : std::optional(parse_since(args.since, now));
  const auto until =
      args.until.empty() ? std::nullopt : std::optional(parse_since(args.until, now));
  if (since && until && *until < *since) {
    throw_invalid("`--since` time ({}) cannot be after `--until` time ({})", args.since,
                  args.until);
  }
  Printer printer(args.format, filters, since, until);
  const auto store = open_container_store(globals);
  // Watched before the journal is read, so that nothing appended in between is missed.
  const UniqueFd inotify(check(::inotify_init1(IN_CLOEXEC), "inotify_init1"));
  check(
      ::inotify_add_watch(inotify.get(), store.root().c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO),
      "watch {}", store.root().string());
  EventJournalReader reader(store.root());
  printer.print(reader.read_new());
  if (until && *until <= now) {
    return;
  }
  io::Loop loop;
  io::sync_wait(loop, follow(loop, inotify.borrow(), reader, printer, until));
}

void setup_events(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("events", "Get real time events from the server");
  auto args = std::make_shared<EventsArgs>();
  cmd->add_option("--since", args->since, "Show all events created since timestamp");
  cmd->add_option("--until", args->until, "Stream events until this timestamp");
  cmd->add_option("-f,--filter", args->filters, "Filter output based on conditions provided")
      ->allow_extra_args(false);
  cmd->add_option("--format", args->format,
                  "Format the output using the given Go template, or json");
  cmd->callback([args, &globals] { events(globals, *args); });
}

GCTOOL_REGISTER_COMMAND(setup_events, "events");

}  // namespace
}  // namespace gctool::tool
