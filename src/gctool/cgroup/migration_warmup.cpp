#include "gctool/cgroup/migration_warmup.hpp"

#include <fcntl.h>
#include <liburing.h>

#include <string_view>

#include "gctool/cgroup/layout.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool::cgroup {
namespace {

// The cgroup.procs file of the cgroup this process is in, in one v1 hierarchy; empty on a
// v2-only host. A hierarchy mounted from elsewhere than its root gives a path that does not exist,
// which start() then fails to open.
std::filesystem::path own_procs_file() {
  const CgroupLayout& layout = host_layout();
  if (layout.mode == CgroupMode::unified || layout.controllers.empty()) {
    return {};
  }
  const auto membership = try_read_file("/proc/self/cgroup");
  if (!membership) {
    return {};
  }
  // Lines are "ID:CONTROLLERS:PATH"; pids first (its moves are the cheapest), else any.
  std::filesystem::path found;
  for (const auto line : split(*membership, '\n')) {
    const auto fields = split(line, ':');
    if (fields.size() < 3) {
      continue;
    }
    // The path is the rest of the line, colons included.
    const std::string_view path = line.substr(fields[0].size() + fields[1].size() + 2);
    for (const auto name : split(fields[1], ',')) {
      const auto mount = layout.controllers.find(std::string(name));
      if (mount == layout.controllers.end()) {
        continue;
      }
      auto file = mount->second / std::filesystem::path(path).relative_path() / "cgroup.procs";
      if (name == "pids") {
        return file;
      }
      if (found.empty()) {
        found = std::move(file);
      }
    }
  }
  return found;
}

}  // namespace

void MigrationWarmup::RingDeleter::operator()(io_uring* ring) const noexcept {
  io_uring_queue_exit(ring);
  delete ring;
}

MigrationWarmup MigrationWarmup::start() noexcept {
  MigrationWarmup warmup;
  try {
    const auto procs = own_procs_file();
    if (procs.empty()) {
      return warmup;
    }
    UniqueFd file(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!file) {
      return warmup;
    }
    auto ring = std::make_unique<io_uring>();
    if (io_uring_queue_init(1, ring.get(), 0) != 0) {
      return warmup;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    // "0" names the writer's own process. Static: the worker reads it whenever it runs.
    static constexpr char kSelf[] = "0";
    io_uring_prep_write(sqe, file.get(), kSelf, 1, 0);
    // A cgroup file cannot be written without blocking: hand it to a worker at once, or the
    // submit itself would wait out the grace period.
    sqe->flags |= IOSQE_ASYNC;
    if (io_uring_submit(ring.get()) != 1) {
      return warmup;
    }
    warmup.procs_ = std::move(file);
    warmup.ring_.reset(ring.release());
  } catch (...) {
    // Only a speed-up: the move of the init waits the grace period out itself.
  }
  return warmup;
}

}  // namespace gctool::cgroup
