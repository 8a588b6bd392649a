// Cleanup after crashes: write_file_atomic (atomic_file.hpp) writes a temporary file next to its
// target and renames it; a process killed in between leaves the temporary file behind.
#pragma once

#include <filesystem>

namespace gctool {

// Removes the temporary files that write_file_atomic calls killed midway left in dir (not in its
// subdirectories). Only for a caller holding the lock that every writer in dir holds, so that no
// temporary file there is in use.
void remove_stale_temporaries(const std::filesystem::path& dir);

}  // namespace gctool
