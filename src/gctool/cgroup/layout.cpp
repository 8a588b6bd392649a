#include "gctool/cgroup/layout.hpp"

#include <sys/statfs.h>

#include <cerrno>
#include <set>
#include <vector>

#include <linux/magic.h>

#include <fmt/std.h>
#include <range/v3/algorithm/find.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/text.hpp"

namespace gctool::cgroup {

namespace {

// Controllers a v1 mount can carry; superblock options that are not in here ("rw",
// "name=systemd", "clone_children") are skipped.
const std::set<std::string, std::less<>> kV1Controllers = {
    "blkio",  "cpu",  "cpuacct", "cpuset",   "devices",    "freezer", "hugetlb",
    "memory", "misc", "net_cls", "net_prio", "perf_event", "pids",    "rdma"};

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string unescape(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const auto octal = field.substr(i + 1, 3);
      if (octal.find_first_not_of("01234567") == std::string_view::npos) {
        out += static_cast<char>((octal[0] - '0') * 64 + (octal[1] - '0') * 8 + (octal[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

struct Mount {
  std::filesystem::path point;
  std::string fstype;
  std::vector<std::string> super_options;
};

// One mountinfo line: "id parent maj:min root point opts [optional...] - fstype source superopts".
std::optional<Mount> parse_line(std::string_view line) {
  const auto fields = split(line, ' ');
  const auto dash = ranges::find(fields, "-");
  if (fields.size() < 6 || dash == fields.end() || fields.end() - dash < 4) {
    return std::nullopt;
  }
  const auto options = split(*(dash + 3), ',');
  return Mount{unescape(fields[4]), std::string(*(dash + 1)), {options.begin(), options.end()}};
}

}  // namespace

std::string_view to_string(CgroupMode mode) noexcept {
  switch (mode) {
    case CgroupMode::v1:
      return "v1";
    case CgroupMode::hybrid:
      return "hybrid";
    case CgroupMode::unified:
      return "unified";
  }
  return "unknown";
}

CgroupLayout parse_layout(std::string_view mountinfo, const std::filesystem::path& cgroup_root) {
  CgroupLayout layout;
  for (const auto& line : split(mountinfo, '\n')) {
    const auto mount = parse_line(line);
    if (!mount) {
      continue;
    }
    if (mount->fstype == "cgroup2") {
      if (mount->point == cgroup_root) {
        return CgroupLayout{CgroupMode::unified, mount->point, {}};
      }
      // Keep the first one; a later mount at the root itself wins above.
      if (layout.unified_mount.empty()) {
        layout.unified_mount = mount->point;
      }
    } else if (mount->fstype == "cgroup") {
      for (const auto& option : mount->super_options) {
        if (kV1Controllers.contains(option)) {
          layout.controllers.emplace(option, mount->point);
        }
      }
    }
  }
  if (layout.controllers.empty()) {
    if (!layout.unified_mount.empty()) {
      // cgroup2 mounted elsewhere than the usual root, with no v1 controller in use.
      layout.mode = CgroupMode::unified;
      return layout;
    }
    throw Error(ENOENT,
                fmt::format("find a cgroup filesystem in mountinfo (expected at {})", cgroup_root));
  }
  layout.mode = layout.unified_mount.empty() ? CgroupMode::v1 : CgroupMode::hybrid;
  return layout;
}

CgroupLayout detect_layout(const std::filesystem::path& cgroup_root,
                           const std::filesystem::path& mountinfo) {
  struct statfs fs {};
  if (::statfs(cgroup_root.c_str(), &fs) == 0 &&
      static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC) {
    return CgroupLayout{CgroupMode::unified, cgroup_root, {}};
  }
  return parse_layout(read_file(mountinfo), cgroup_root);
}

const CgroupLayout& host_layout() {
  static const CgroupLayout layout = detect_layout();
  return layout;
}

}  // namespace gctool::cgroup
