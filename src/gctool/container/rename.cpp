#include "gctool/container/rename.hpp"

#include "gctool/container/events.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_lock.hpp"
#include "gctool/core/ids.hpp"

namespace gctool::container {

void rename_container(const ContainerStore& store, std::string_view ref, std::string_view name) {
  // Docker accepts the name with its leading '/'.
  if (name.starts_with('/')) {
    name.remove_prefix(1);
  }
  if (!valid_name(name)) {
    throw_invalid("invalid container name \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                  name);
  }
  const auto lock = store.lock();
  const std::string id = store.resolve(ref);
  const auto record = store.load(id);
  if (!record) {
    throw_invalid("no such container: {}", ref);
  }
  if (record->name == name) {
    throw_invalid("renaming a container with the same name as its current name");
  }
  store.rename(id, name, Durability::durable);
  auto renamed = *record;
  renamed.name = name;
  record_container_event(store, renamed, "rename", {{"oldName", "/" + record->name}});
}

}  // namespace gctool::container
