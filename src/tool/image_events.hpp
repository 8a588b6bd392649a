// Image events for the journal (core/event_journal.hpp), as Docker reports them: the actor is
// the image (or, for pull and push, the reference), "name" the reference it was acted on by.
#pragma once

#include <string>

#include "command.hpp"
#include "gctool/core/event_journal.hpp"

namespace gctool::tool {

inline void record_image_event(const Globals& globals, const std::string& action,
                               const std::string& id, const std::string& name) {
  record_event(globals.root, {"image", action, id, {{"name", name}}});
}

}  // namespace gctool::tool
