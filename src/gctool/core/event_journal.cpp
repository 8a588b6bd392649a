#include "gctool/core/event_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool {
namespace {

// Appends what fd has from its position on to text; a failing read leaves the rest for later.
void read_rest(BorrowedFd fd, std::string& text) {
  try {
    text += read_all(fd, "the events journal");
  } catch (const Error&) {
    // Read again at the next call.
  }
}

// The whole lines of text as messages; what follows the last newline stays in text.
void take_lines(std::string& text, std::vector<nlohmann::json>& out) {
  std::size_t start = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    auto message =
        nlohmann::json::parse(text.begin() + static_cast<std::ptrdiff_t>(start),
                              text.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
    if (message.is_object()) {
      out.push_back(std::move(message));
    }
    start = nl + 1;
  }
  text.erase(0, start);
}

}  // namespace

std::filesystem::path event_journal_path(const std::filesystem::path& root) {
  return root / "events.log";
}

nlohmann::json event_message(const Event& event, std::chrono::system_clock::time_point time) {
  const auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  nlohmann::json message = nlohmann::json::object();
  // Docker's older fields, kept for the types that had them.
  if (event.type == "container" || event.type == "image") {
    message["status"] = event.action;
    message["id"] = event.id;
    if (const auto image = event.attributes.find("image");
        event.type == "container" && image != event.attributes.end()) {
      message["from"] = image->second;
    }
  }
  message["Type"] = event.type;
  message["Action"] = event.action;
  message["Actor"] = {{"ID", event.id}, {"Attributes", event.attributes}};
  message["scope"] = "local";
  message["time"] = nanos / 1'000'000'000;
  message["timeNano"] = nanos;
  return message;
}

void record_event(const std::filesystem::path& root, const Event& event) noexcept {
  try {
    record_events(root, {event});
  } catch (...) {
    // Dropped, as documented.
  }
}

void record_events(const std::filesystem::path& root, const std::vector<Event>& events) noexcept {
  try {
    const auto path = event_journal_path(root);
    const auto now = std::chrono::system_clock::now();
    std::string line;
    for (const auto& event : events) {
      line +=
          event_message(event, now).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      line += '\n';
    }
    const UniqueFd fd(
        ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600));
    if (!fd) {
      return;
    }
    // One write: O_APPEND places the whole message at the end, whoever else is writing.
    if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 ||
        static_cast<std::uint64_t>(st.st_size) < kEventJournalLimit) {
      return;
    }
    // Rotate once: the writer that holds the lock and still sees this file under the name.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      return;
    }
    struct stat named {};
    if (::stat(path.c_str(), &named) == 0 && named.st_ino == st.st_ino &&
        named.st_dev == st.st_dev) {
      auto older = path;
      older += ".1";
      ::rename(path.c_str(), older.c_str());
    }
  } catch (...) {
    // Dropped, as documented.
  }
}

EventJournalReader::EventJournalReader(std::filesystem::path root)
    : path_(event_journal_path(root)) {}

bool EventJournalReader::reopen() {
  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) {
    return false;
  }
  fd_ = std::move(fd);
  inode_ = st.st_ino;
  partial_.clear();
  return true;
}

void EventJournalReader::drain(std::vector<nlohmann::json>& out) {
  read_rest(fd_.borrow(), partial_);
  take_lines(partial_, out);
}

std::vector<nlohmann::json> EventJournalReader::read_new() {
  std::vector<nlohmann::json> out;
  if (!started_) {
    started_ = true;
    auto older = path_;
    older += ".1";
    const UniqueFd old(::open(older.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (old) {
      std::string text;
      read_rest(old.borrow(), text);
      take_lines(text, out);
    }
  }
  if (!fd_) {
    if (reopen()) {
      drain(out);
    }
    return out;
  }
  drain(out);
  // Rotated since: the old file is finished (drained above), the new one starts at its beginning.
  struct stat named {};
  if (::stat(path_.c_str(), &named) == 0 && named.st_ino != inode_ && reopen()) {
    drain(out);
  }
  return out;
}

}  // namespace gctool
