// Atomic replacement of a file: readers see the old contents or the new, never a mix, and after a
// crash the file is one of the two. Every state write of gctool goes through here.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "gctool/core/format.hpp"

namespace gctool {

enum class Durability {
  durable,  // fsync the data and the directory: survives a power loss once this returns
  fast,     // rename only: atomic against crashes of the process, not of the machine
};

// Writes data to a temporary file in the same directory (so rename stays on one filesystem),
// fsyncs it, renames it over path and fsyncs the directory. The temporary file is removed on any
// failure. The file gets `mode` regardless of the umask.
void write_file_atomic(const std::filesystem::path& path, std::string_view data,
                       Durability durability = Durability::durable, mode_t mode = 0644);

// fsync of a directory: makes the names created, renamed or removed in it durable.
void fsync_directory(const std::filesystem::path& dir);

}  // namespace gctool
