// `gctool-oci features`: what this runtime supports, as the runtime-spec features document.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../command.hpp"
#include "../config.hpp"
#include "gctool/sys/capabilities.hpp"

namespace gctool::oci {
namespace {

nlohmann::json features() {
  nlohmann::json doc;
  doc["ociVersionMin"] = "1.0.0";
  doc["ociVersionMax"] = kSpecVersion;
  doc["hooks"] = {"prestart",       "createRuntime", "createContainer",
                  "startContainer", "poststart",     "poststop"};
  doc["mountOptions"] = {
      "async",       "atime",    "bind",        "defaults",  "dev",       "diratime",   "dirsync",
      "exec",        "lazytime", "mand",        "noatime",   "nodev",     "nodiratime", "noexec",
      "nosuid",      "private",  "rbind",       "relatime",  "remount",   "ro",         "rprivate",
      "rshared",     "rslave",   "runbindable", "rw",        "shared",    "silent",     "slave",
      "strictatime", "suid",     "sync",        "tmpcopyup", "unbindable"};
  auto& linux_doc = doc["linux"];
  linux_doc["namespaces"] = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"};
  linux_doc["capabilities"] = sys::capability_names(sys::all_capabilities(sys::kLastKnownCap));
  linux_doc["cgroup"] = {
      {"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", false}};
  linux_doc["seccomp"] = {
      {"enabled", true},
      {"actions",
       {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
      {"operators",
       {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
        "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
      {"archs",
       {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM"}}};
  linux_doc["apparmor"] = {{"enabled", false}};
  linux_doc["selinux"] = {{"enabled", false}};
  linux_doc["intelRdt"] = {{"enabled", false}};
  doc["annotations"] = {{"org.opencontainers.runtime-spec.features", "gctool-oci"}};
  return doc;
}

void setup_features(CLI::App& app, Globals&) {
  auto* cmd = app.add_subcommand("features", "Print the features document as JSON");
  cmd->callback([] { fmt::print("{}\n", features().dump(4)); });
}

GCTOOL_OCI_COMMAND(setup_features);

}  // namespace
}  // namespace gctool::oci
