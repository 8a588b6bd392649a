// Private helpers of the cgroup drivers: reading numbers, keyed files and pid lists from
// cgroupfs, creating levels and removing directories.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gctool::cgroup::detail {

using Clock = std::chrono::steady_clock;

// The file's single unsigned number; nullopt when the file does not exist.
std::optional<std::uint64_t> read_u64(const std::filesystem::path& file);

// The value of `key` in a flat keyed file ("oom_kill 3" lines); nullopt when the file or the key
// is missing.
std::optional<std::uint64_t> read_key(const std::filesystem::path& file, std::string_view key);

// A limit file: nullopt when it is missing, says "max" (v2) or is v1's "unlimited" (2^63 rounded
// down to a page, or more).
std::optional<std::uint64_t> read_limit(const std::filesystem::path& file);

// Bytes read and written, summed over devices: v1 blkio.throttle.io_service_bytes lines
// ("8:0 Read 4096"; the Total lines are skipped), v2 io.stat lines ("8:0 rbytes=1 wbytes=2 ...").
// {0, 0} when the file is missing.
std::pair<std::uint64_t, std::uint64_t> read_io_v1(const std::filesystem::path& file);
std::pair<std::uint64_t, std::uint64_t> read_io_v2(const std::filesystem::path& file);

// The pids listed in a cgroup.procs file; empty when it does not exist.
std::vector<pid_t> read_pids(const std::filesystem::path& procs);

// mkdir that accepts an existing directory: cgroups are shared by their children.
void make_dir(const std::filesystem::path& dir);

// make_dir of every level of root/path from the top; returns the levels' directories.
std::vector<std::filesystem::path> make_levels(const std::filesystem::path& root,
                                               std::string_view path);

// rmdir, retried on EBUSY until the deadline; succeeds when the directory is already gone.
void remove_dir(const std::filesystem::path& dir, Clock::time_point deadline);

}  // namespace gctool::cgroup::detail
