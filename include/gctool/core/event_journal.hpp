// The events journal behind `gctool events`: what happened to containers, images, networks and
// volumes, one JSON message a line in <root>/events.log, as Docker's events API sends them
// ({"Type", "Action", "Actor": {"ID", "Attributes"}, "time", "timeNano"}, and "status", "id",
// "from" for containers and images). Every gctool process appends with one O_APPEND write a
// message, so concurrent writers never interleave and a start pays one open and one write. The
// file is bounded: past kEventJournalLimit it is renamed to events.log.1 (the one older
// generation kept) and a new one begins.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gctool/core/fd.hpp"

namespace gctool {

inline constexpr std::uint64_t kEventJournalLimit = 1 << 20;

struct Event {
  std::string type;    // container, image, network, volume
  std::string action;  // create, start, die, pull, connect, ...
  std::string id;      // the actor: a container or image id, a network or volume name
  std::map<std::string, std::string> attributes;
};

// <root>/events.log; the older generation is events.log.1.
std::filesystem::path event_journal_path(const std::filesystem::path& root);

// Docker's message for the event at `time`.
nlohmann::json event_message(const Event& event, std::chrono::system_clock::time_point time);

// Appends the event at the current time. Best effort: an event that cannot be written (a full
// disk, a read-only root) is dropped, never failing what it reports.
void record_event(const std::filesystem::path& root, const Event& event) noexcept;
// Several events at the same time, in one write.
void record_events(const std::filesystem::path& root, const std::vector<Event>& events) noexcept;

// Reads the journal's messages in order, the older generation first, then those appended later,
// following the file across rotations.
class EventJournalReader {
 public:
  explicit EventJournalReader(std::filesystem::path root);

  // The messages appended since the last call (all of them at first). A line being written
  // (no newline yet) waits for the next call; a line that is not JSON is skipped.
  std::vector<nlohmann::json> read_new();

 private:
  void drain(std::vector<nlohmann::json>& out);
  bool reopen();

  std::filesystem::path path_;
  UniqueFd fd_;
  ino_t inode_ = 0;
  bool started_ = false;
  std::string partial_;
};

}  // namespace gctool
