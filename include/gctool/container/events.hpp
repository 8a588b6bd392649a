// Container events for the journal (core/event_journal.hpp), with the attributes Docker gives
// them: the container's labels, "image" as the user named it, and "name".
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "gctool/container/state.hpp"
#include "gctool/container/store.hpp"
#include "gctool/core/event_journal.hpp"

namespace gctool::container {

inline Event container_event(const Record& record, std::string_view action,
                             std::map<std::string, std::string> extra = {}) {
  Event event{"container", std::string(action), record.id, record.spec.labels};
  event.attributes["image"] = record.spec.image_ref;
  event.attributes["name"] = record.name;
  for (auto& [key, value] : extra) {
    event.attributes[key] = std::move(value);
  }
  return event;
}

inline void record_container_event(const ContainerStore& store, const Record& record,
                                   std::string_view action,
                                   std::map<std::string, std::string> extra = {}) noexcept {
  try {
    record_event(store.root(), container_event(record, action, std::move(extra)));
  } catch (...) {
    // Events are best effort (see record_event).
  }
}

}  // namespace gctool::container
