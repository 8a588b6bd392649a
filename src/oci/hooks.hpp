// OCI hooks: each hook's program runs with the container's state as JSON on its stdin, in the
// runtime's namespaces or (createContainer, startContainer) in the container's, and is killed
// when its timeout passes. A failing hook fails the step it belongs to.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::oci {

// Runs the hooks in order. With a valid pidfd, each first joins that process's mount namespace
// (and `namespaces`, CLONE_NEW* flags) so that it sees the container's filesystem.
void run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state,
               BorrowedFd pidfd = BorrowedFd(), int namespaces = 0);

}  // namespace gctool::oci
