// `gctool-oci spec [--bundle DIR]`: writes a default config.json, as `runc spec` does: sh in
// ./rootfs with a terminal, runc's default capabilities, mounts, masked and read-only paths.
#include <fcntl.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "../command.hpp"
#include "../config.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/sys/security.hpp"

namespace gctool::oci {
namespace {

nlohmann::json default_spec() {
  using nlohmann::json;
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  auto mount = [](const char* dest, const char* type, const char* source,
                  std::vector<std::string> options) {
    return json{{"destination", dest}, {"type", type}, {"source", source}, {"options", options}};
  };
  json doc;
  doc["ociVersion"] = kSpecVersion;
  doc["process"] = {
      {"terminal", true},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", {"sh"}},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
      {"cwd", "/"},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
      {"noNewPrivileges", true}};
  doc["root"] = {{"path", "rootfs"}, {"readonly", true}};
  doc["hostname"] = "gctool";
  doc["mounts"] = {
      mount("/proc", "proc", "proc", {}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"})};
  std::vector<std::string> masked(sys::kDefaultMaskedPaths.begin(), sys::kDefaultMaskedPaths.end());
  std::vector<std::string> readonly(sys::kDefaultReadonlyPaths.begin(),
                                    sys::kDefaultReadonlyPaths.end());
  doc["linux"] = {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
                  {"namespaces",
                   {{{"type", "pid"}},
                    {{"type", "network"}},
                    {{"type", "ipc"}},
                    {{"type", "uts"}},
                    {{"type", "mount"}},
                    {{"type", "cgroup"}}}},
                  {"maskedPaths", masked},
                  {"readonlyPaths", readonly}};
  return doc;
}

void setup_spec(CLI::App& app, Globals&) {
  auto* cmd = app.add_subcommand("spec", "Write a default config.json");
  auto bundle = std::make_shared<std::filesystem::path>(".");
  cmd->add_option("-b,--bundle", *bundle, "Where to write config.json");
  cmd->callback([bundle] {
    const auto path = *bundle / "config.json";
    if (std::filesystem::exists(path)) {
      throw_invalid("File {} exists. Remove it first", path.string());
    }
    write_file(path, default_spec().dump(2) + "\n");
  });
}

GCTOOL_OCI_COMMAND(setup_spec);

}  // namespace
}  // namespace gctool::oci
