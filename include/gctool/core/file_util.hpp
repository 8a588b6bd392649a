// Whole-file reads and writes with errors that name the path. procfs, sysfs and cgroupfs files
// report size 0, so reads go until EOF rather than trusting stat.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "gctool/core/fd.hpp"
#include "gctool/core/format.hpp"

namespace gctool {

// Reads everything from fd until EOF; `what` names the file in the error.
std::string read_all(BorrowedFd fd, std::string_view what);

// Writes all of data, continuing after short writes; `what` names the file in the error.
void write_all(BorrowedFd fd, std::string_view data, std::string_view what);

// The contents of the file. Throws Error naming the path (ENOENT when it is missing).
std::string read_file(const std::filesystem::path& path);

// The contents, or nullopt when the file does not exist (ENOENT only; other errors throw).
std::optional<std::string> try_read_file(const std::filesystem::path& path);

// Creates or truncates the file and writes data. Not atomic: see write_file_atomic for state.
void write_file(const std::filesystem::path& path, std::string_view data, mode_t mode = 0644);

// Writes data into a file that must already exist, without O_CREAT or O_TRUNC: the way to set a
// cgroupfs or procfs knob. The error names the path and the value, e.g.
// `write "max" to "/sys/fs/cgroup/x/memory.max": Invalid argument`.
void write_existing_file(const std::filesystem::path& path, std::string_view data);

}  // namespace gctool
