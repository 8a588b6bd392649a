// What a container is and was: the record kept in <root>/containers/<id>/config.json, in Docker's
// inspect shape (Id, Name, State, Config, HostConfig, Mounts) plus gctool's own fields.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gctool/container/spec.hpp"
#include "gctool/core/proc.hpp"
#include "gctool/net/attach.hpp"

namespace gctool::container {

// restarting: pid 1 has exited and the supervisor waits out its back-off before starting it again
// (Docker's "Restarting"); no process runs meanwhile.
enum class Status { created, running, restarting, exited };

std::string_view to_string(Status status) noexcept;
Status status_from_string(std::string_view text);

// A process identified beyond pid reuse: pid plus its start time (field 22 of /proc/PID/stat).
struct ProcessId {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  bool operator==(const ProcessId&) const = default;
};

// Whether that process still runs (not a later process with its pid).
inline bool alive(const ProcessId& p) {
  return p.pid > 0 && process_matches(p.pid, p.start_time);
}

struct State {
  Status status = Status::created;
  ProcessId process;  // the container's pid 1 (host pid); 0 when not running
  int exit_code = 0;  // of the last exit (also while restarting)
  bool oom_killed = false;
  std::string started_at;   // RFC 3339 nano; empty: never
  std::string finished_at;  // RFC 3339 nano; empty: never
  std::string error;
  // Running with every process frozen (`pause`): read from the cgroup when the record is
  // reconciled; inspect shows Status "paused", as Docker.
  bool paused = false;
};

// Docker's State.Status: the status, or "paused" for a paused running container.
std::string_view status_name(const State& state) noexcept;

struct Record {
  std::string id;  // 64 hex
  std::string name;
  std::string created;  // RFC 3339 nano
  Spec spec;
  std::string hostname;  // as set in the container
  State state;
  // gctool's own: the process that waits for the container and records its exit (the foreground
  // `run`, later the supervisor); while it lives, nobody else reconciles the container.
  ProcessId owner;
  // How often the supervisor's restart policy has started the container again (Docker's
  // RestartCount).
  int restart_count = 0;
  std::string cgroup_path;  // relative, "gctool/<id>"
  // The container's place on its network while it runs (address, gateway, MAC, published ports
  // with their host ports resolved); nullopt when it is not attached (none, host, not running).
  std::optional<net::Attachment> network;

  // Entrypoint + Cmd: what runs.
  std::vector<std::string> args() const;
  bool running() const noexcept { return state.status == Status::running; }
};

// Docker's field names; Spec fields go into Config and HostConfig, gctool's into "Gctool", the
// attachment into Docker's NetworkSettings (and "Gctool" for reading it back).
nlohmann::json to_json(const Record& record);
// Throws an invalid-input Error when a required field is missing or has the wrong type.
Record record_from_json(const nlohmann::json& json);

// The fields a listing shows and filters on, and those that reconciling it reads: id, name,
// created, image, state, owner, restart count, cgroup, network attachment, and of the spec the
// image, command, labels, network mode, auto-remove and the Mounts. The rest stays default, so
// such a record is never saved: load the whole one to change it. Reads only what it expects and
// throws for anything else (record_from_json on the parsed text then says what is wrong).
Record record_for_listing(std::string_view text);

// Only the id and name of a record (for finding a container by name), with the text checked to
// be JSON with the sections of a record; throws as record_for_listing.
Record record_names(std::string_view text);

// What can still be read of a damaged record (truncated, or not a record any more): its name and
// owner when they come before the damage, empty otherwise. Lets `rm -f NAME` find the container
// and stop its owner.
struct RecordIdentity {
  std::string name;  // without '/'; only a valid container name
  ProcessId owner;
};
RecordIdentity salvage_identity(std::string_view text);

// The network a --network value names: "default" (and "") is the default network "bridge".
std::string network_name_of(std::string_view mode);

}  // namespace gctool::container
