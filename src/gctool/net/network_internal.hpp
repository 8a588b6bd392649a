// Pieces shared by network.cpp and attach.cpp that run with the networks lock already held
// (flock is per open file, so taking it again from the same process would deadlock).
#pragma once

#include <filesystem>
#include <string>

#include "gctool/core/file_lock.hpp"
#include "gctool/net/network.hpp"

namespace gctool::net {

std::filesystem::path networks_dir(const std::filesystem::path& root);
// Serializes changes to networks and attachments of one root. Once it holds the lock, it rolls
// back or finishes the network changes of processes that died holding it.
FileLock lock_networks(const std::filesystem::path& root);
Network create_network_locked(const std::filesystem::path& root,
                              const CreateNetworkOptions& options);
Network ensure_default_network_locked(const std::filesystem::path& root);
bool detach_locked(const std::filesystem::path& root, const std::string& container_id);
bool disconnect_locked(const std::filesystem::path& root, const std::string& network_name,
                       const std::string& container_id);

}  // namespace gctool::net
