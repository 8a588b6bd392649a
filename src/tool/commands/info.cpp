// `gctool info [-f TEMPLATE]`: what this host and data root hold, as `docker info` shows it:
// container counts by state, images, storage, cgroups, networks, security, kernel and machine.
// The field names of the template data are Docker's, so scripts written for it keep working.
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/cgroup/layout.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/json_template.hpp"
#include "gctool/core/text.hpp"
#include "gctool/image/store.hpp"
#include "gctool/net/network.hpp"

namespace gctool::tool {
namespace {

// PRETTY_NAME of /etc/os-release, or the kernel's name without one.
std::string operating_system(const utsname& host) {
  const auto text = try_read_file("/etc/os-release");
  for (const auto line : split(text ? std::string_view(*text) : std::string_view(), '\n')) {
    constexpr std::string_view key = "PRETTY_NAME=";
    if (line.starts_with(key)) {
      std::string_view value = line.substr(key.size());
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
  }
  return host.sysname;
}

// The filesystem type under the data root, as Docker's "Backing Filesystem".
std::string backing_filesystem(const std::string& root) {
  struct statfs fs {};
  if (::statfs(root.c_str(), &fs) != 0) {
    return "unknown";
  }
  switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:
      return "extfs";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case TMPFS_MAGIC:
      return "tmpfs";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlayfs";
    default:
      return fmt::format("0x{:x}", static_cast<unsigned long>(fs.f_type));
  }
}

nlohmann::json collect(const Globals& globals) {
  const std::string& root = globals.root;
  const auto store = open_container_store(globals);
  int running = 0;
  int stopped = 0;
  const auto records = container::list_containers(store);
  for (const auto& record : records) {
    if (record.running() || record.state.status == container::Status::restarting) {
      ++running;
    } else {
      ++stopped;
    }
  }
  nlohmann::json networks = nlohmann::json::array({"bridge", "host", "none"});
  for (const auto& network : net::list_networks(root)) {
    if (network.name != "bridge") {
      networks.push_back(network.name);
    }
  }
  utsname host{};
  ::uname(&host);
  const auto& layout = cgroup::host_layout();
  return {
      {"Containers", records.size()},
      {"ContainersRunning", running},
      {"ContainersPaused", 0},  // no pause yet
      {"ContainersStopped", stopped},
      {"Images", image::ImageStore(root).list().size()},
      {"Driver", "overlay"},
      {"DriverStatus", {{"Backing Filesystem", backing_filesystem(root)}}},
      {"CgroupDriver", "cgroupfs"},
      {"CgroupVersion", layout.mode == cgroup::CgroupMode::unified ? "2" : "1"},
      {"CgroupMode", std::string(cgroup::to_string(layout.mode))},
      {"Networks", networks},
      {"SecurityOptions", {"name=seccomp,profile=builtin"}},
      {"ServerVersion", GCTOOL_VERSION},
      {"KernelVersion", host.release},
      {"OperatingSystem", operating_system(host)},
      {"OSType", "linux"},
      {"Architecture", host.machine},
      {"NCPU", ::sysconf(_SC_NPROCESSORS_ONLN)},
      {"MemTotal", static_cast<std::int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE)},
      {"Name", host.nodename},
      {"DockerRootDir", root},
  };
}

std::string gib(std::int64_t bytes) {
  return fmt::format("{:.2f}GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
}

void print_text(const nlohmann::json& info) {
  std::string out;
  const auto line = [&out](std::string_view label, const nlohmann::json& value) {
    out +=
        fmt::format("{}: {}\n", label, value.is_string() ? value.get<std::string>() : value.dump());
  };
  line("Containers", info["Containers"]);
  line(" Running", info["ContainersRunning"]);
  line(" Paused", info["ContainersPaused"]);
  line(" Stopped", info["ContainersStopped"]);
  line("Images", info["Images"]);
  line("Server Version", info["ServerVersion"]);
  line("Storage Driver", info["Driver"]);
  line(" Backing Filesystem", info["DriverStatus"]["Backing Filesystem"]);
  line("Cgroup Driver", info["CgroupDriver"]);
  line("Cgroup Version", info["CgroupVersion"]);
  std::string networks;
  for (const auto& name : info["Networks"]) {
    networks += (networks.empty() ? "" : " ") + name.get<std::string>();
  }
  line("Network", networks);
  out += "Security Options:\n seccomp\n  Profile: builtin\n";
  line("Kernel Version", info["KernelVersion"]);
  line("Operating System", info["OperatingSystem"]);
  line("OSType", info["OSType"]);
  line("Architecture", info["Architecture"]);
  line("CPUs", info["NCPU"]);
  line("Total Memory", gib(info["MemTotal"].get<std::int64_t>()));
  line("Name", info["Name"]);
  line("Root Dir", info["DockerRootDir"]);
  fmt::print("{}", out);
}

void setup_info(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("info", "Display system-wide information");
  auto format = std::make_shared<std::optional<std::string>>();
  cmd->add_option("-f,--format", *format, "Format the output using the given Go template");
  cmd->callback([format, &globals] {
    const auto info = collect(globals);
    if (*format && !(*format)->empty()) {
      fmt::print("{}\n", render_template(**format, info));
    } else {
      print_text(info);
    }
  });
}

GCTOOL_REGISTER_COMMAND(setup_info, "info");

}  // namespace
}  // namespace gctool::tool
