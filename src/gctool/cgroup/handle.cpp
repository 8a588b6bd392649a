#include "gctool/cgroup/handle.hpp"

#include <cerrno>
#include <utility>

#include "gctool/core/error.hpp"

namespace gctool::cgroup {

namespace {

// The destructor's budget: long enough for killed processes to exit, short enough not to hang
// a failing command.
constexpr std::chrono::milliseconds kCleanupTimeout{2000};

}  // namespace

CgroupHandle CgroupHandle::create(std::shared_ptr<const CgroupDriver> driver, std::string_view path,
                                  const Resources& resources) {
  validate(resources);
  auto relative = normalize_path(path);
  const bool existed = driver->exists(relative);
  CgroupHandle handle(std::move(driver), std::move(relative));
  // A cgroup that was there before (a leftover, or another owner) is not ours to remove when
  // setting it up fails.
  handle.owned_ = !existed;
  handle.driver_->create(handle.path_, resources);
  handle.owned_ = true;
  handle.driver_->apply(handle.path_, resources);
  return handle;
}

CgroupHandle CgroupHandle::open(std::shared_ptr<const CgroupDriver> driver, std::string_view path) {
  auto relative = normalize_path(path);
  if (!driver->exists(relative)) {
    throw Error(ENOENT, fmt::format("open cgroup \"{}\"", relative));
  }
  return CgroupHandle(std::move(driver), std::move(relative));
}

CgroupHandle::CgroupHandle(CgroupHandle&& other) noexcept
    : driver_(std::move(other.driver_)),
      path_(std::exchange(other.path_, {})),
      owned_(std::exchange(other.owned_, false)) {}

CgroupHandle& CgroupHandle::operator=(CgroupHandle&& other) noexcept {
  if (this != &other) {
    destroy();
    driver_ = std::move(other.driver_);
    path_ = std::exchange(other.path_, {});
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

CgroupHandle::~CgroupHandle() {
  destroy();
}

void CgroupHandle::destroy() noexcept {
  if (!driver_ || !owned_) {
    return;
  }
  owned_ = false;
  try {
    driver_->kill_all(path_, kCleanupTimeout);
    driver_->remove(path_, kCleanupTimeout);
  } catch (...) {
    // Best effort: `gctool rm -f` can open() and remove it later.
  }
}

void CgroupHandle::set_resources(const Resources& resources) const {
  validate(resources);
  driver_->apply(path_, resources);
}

void CgroupHandle::add_process(pid_t pid) const {
  driver_->add_process(path_, pid);
}

std::vector<pid_t> CgroupHandle::pids() const {
  return driver_->pids(path_);
}

Stats CgroupHandle::stats() const {
  return driver_->stats(path_);
}

UniqueFd CgroupHandle::open_dir() const {
  return driver_->open_dir(path_);
}

void CgroupHandle::kill_all(std::chrono::milliseconds timeout) const {
  driver_->kill_all(path_, timeout);
}

void CgroupHandle::remove(std::chrono::milliseconds timeout) {
  driver_->remove(path_, timeout);
  owned_ = false;
}

void CgroupHandle::kill_and_remove(std::chrono::milliseconds timeout) {
  try {
    remove(std::chrono::milliseconds(0));
  } catch (const Error& e) {
    if (e.errno_value() != EBUSY) {
      throw;
    }
    kill_all(timeout);
    remove(timeout);
  }
}

std::string CgroupHandle::release() noexcept {
  owned_ = false;
  return path_;
}

}  // namespace gctool::cgroup
