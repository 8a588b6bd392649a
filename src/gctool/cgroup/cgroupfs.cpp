#include "cgroupfs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <thread>

#include <fmt/std.h>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool::cgroup::detail {

namespace {

std::uint64_t parse_u64(std::string_view text, const std::filesystem::path& file) {
  text = trim(text);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    throw Error(EINVAL, fmt::format("parse {:?} in {}", text, file));
  }
  return value;
}

}  // namespace

std::optional<std::uint64_t> read_u64(const std::filesystem::path& file) {
  const auto text = try_read_file(file);
  if (!text) {
    return std::nullopt;
  }
  return parse_u64(*text, file);
}

std::optional<std::uint64_t> read_key(const std::filesystem::path& file, std::string_view key) {
  const auto text = try_read_file(file);
  if (!text) {
    return std::nullopt;
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ') {
      return parse_u64(line.substr(key.size() + 1), file);
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> read_limit(const std::filesystem::path& file) {
  const auto text = try_read_file(file);
  if (!text || trim(*text) == "max" || trim(*text).empty()) {
    return std::nullopt;
  }
  const auto value = parse_u64(*text, file);
  if (value >= (std::uint64_t{1} << 62)) {
    return std::nullopt;
  }
  return value;
}

namespace {

// Calls line(text) for each line of the file.
template <typename F>
void for_each_line(const std::filesystem::path& file, F line) {
  const auto text = try_read_file(file);
  if (!text) {
    return;
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    line(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
  }
}

std::uint64_t number_or_zero(std::string_view text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

std::pair<std::uint64_t, std::uint64_t> read_io_v1(const std::filesystem::path& file) {
  std::pair<std::uint64_t, std::uint64_t> sum{0, 0};
  for_each_line(file, [&](std::string_view line) {
    const auto first = line.find(' ');
    const auto second = line.rfind(' ');
    if (first == std::string_view::npos || second == first) {
      return;
    }
    const auto op = line.substr(first + 1, second - first - 1);
    const auto value = number_or_zero(line.substr(second + 1));
    if (op == "Read") {
      sum.first += value;
    } else if (op == "Write") {
      sum.second += value;
    }
  });
  return sum;
}

std::pair<std::uint64_t, std::uint64_t> read_io_v2(const std::filesystem::path& file) {
  std::pair<std::uint64_t, std::uint64_t> sum{0, 0};
  for_each_line(file, [&](std::string_view line) {
    for (std::string_view rest = line; !rest.empty();) {
      const auto space = rest.find(' ');
      const auto field = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
      if (field.starts_with("rbytes=")) {
        sum.first += number_or_zero(field.substr(7));
      } else if (field.starts_with("wbytes=")) {
        sum.second += number_or_zero(field.substr(7));
      }
    }
  });
  return sum;
}

std::vector<pid_t> read_pids(const std::filesystem::path& procs) {
  std::vector<pid_t> pids;
  const auto text = try_read_file(procs);
  if (!text) {
    return pids;
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    const std::string_view line = trim(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    if (!line.empty()) {
      pids.push_back(static_cast<pid_t>(parse_u64(line, procs)));
    }
  }
  return pids;
}

void make_dir(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    throw_errno("create cgroup {}", dir);
  }
}

std::vector<std::filesystem::path> make_levels(const std::filesystem::path& root,
                                               std::string_view path) {
  std::vector<std::filesystem::path> levels;
  std::filesystem::path dir = root;
  for (const auto& part : std::filesystem::path(path)) {
    dir /= part;
    make_dir(dir);
    levels.push_back(dir);
  }
  return levels;
}

void remove_dir(const std::filesystem::path& dir, Clock::time_point deadline) {
  while (::rmdir(dir.c_str()) != 0) {
    if (errno == ENOENT) {
      return;
    }
    if (errno != EBUSY || Clock::now() >= deadline) {
      throw_errno("remove cgroup {}", dir);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace gctool::cgroup::detail
