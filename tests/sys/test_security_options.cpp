#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "child_probe.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/sys/security.hpp"
#include "test_support.hpp"

using namespace gctool::sys;
using gctool::test::parse_report;
using gctool::test::report_call;
using gctool::test::run_in_child;

namespace {

constexpr CapMask kEverything = all_capabilities(kLastKnownCap);

SecurityOptions parse(std::vector<std::string> opts, bool privileged = false) {
  SecurityRequest request;
  request.security_opts = std::move(opts);
  request.privileged = privileged;
  request.available_caps = kEverything;
  return parse_security(request);
}

// What a container init does around the user switch; returns the /proc/self/status of the
// exec'd program and the outcome of a mount attempt before exec.
std::map<std::string, std::string> status_after_init(const SecurityOptions& options, uid_t uid) {
  const auto result = run_in_child([&](int out) {
    if (!gctool::test::private_mount_namespace()) {
      return 5;
    }
    if (const auto status = apply_security_before_user(options); !status.ok()) {
      gctool::test::report(out, fmt::format("failed={}\n", status.step));
      return 1;
    }
    if (uid != 0 && (::setgroups(0, nullptr) != 0 || ::setresgid(uid, uid, uid) != 0 ||
                     ::setresuid(uid, uid, uid) != 0)) {
      return 2;
    }
    if (const auto status = apply_security_after_user(options); !status.ok()) {
      gctool::test::report(out, fmt::format("failed={}\n", status.step));
      return 3;
    }
    report_call(out, "mount", ::mount("none", "/mnt", "tmpfs", 0, nullptr));
    ::dup2(out, STDOUT_FILENO);
    ::execl("/bin/cat", "cat", "/proc/self/status", static_cast<char*>(nullptr));
    return 4;
  });
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  return parse_report(result.output);
}

}  // namespace

TEST_CASE("defaults: Docker's capabilities, no_new_privs, seccomp, masked paths", "[security]") {
  const auto options = parse({});
  CHECK(options.caps.bounding == kDefaultCapabilities);
  CHECK(options.caps.effective == kDefaultCapabilities);
  CHECK(options.caps.inheritable == 0);
  CHECK(options.caps.ambient == 0);
  CHECK(options.no_new_privs);
  REQUIRE(options.seccomp);
  CHECK_FALSE(options.seccomp->filter.empty());
  CHECK(options.masked_paths.size() == kDefaultMaskedPaths.size());
  CHECK(options.masked_paths.front() == "/proc/acpi");
  CHECK(options.readonly_paths.back() == "/proc/sysrq-trigger");
  CHECK(options.last_cap == kernel_last_cap());
}

TEST_CASE("flag --security-opt values", "[security]") {
  CHECK_FALSE(parse({"no-new-privileges=false"}).no_new_privs);
  CHECK_FALSE(parse({"no-new-privileges:false"}).no_new_privs);
  CHECK(parse({"no-new-privileges"}).no_new_privs);
  CHECK(parse({"no-new-privileges=true"}).no_new_privs);
  CHECK_FALSE(parse({"seccomp=unconfined"}).seccomp);
  CHECK(parse({"apparmor=unconfined", "label=disable"}).seccomp);

  const auto open_paths = parse({"systempaths=unconfined"});
  CHECK(open_paths.masked_paths.empty());
  CHECK(open_paths.readonly_paths.empty());

  CHECK_THROWS_WITH(parse({"foo"}), "invalid --security-opt \"foo\"");
  CHECK_THROWS_WITH(parse({"no-new-privileges=maybe"}),
                    "invalid --security-opt \"no-new-privileges=maybe\"");
  CHECK_THROWS_WITH(parse({"seccomp="}), "invalid --security-opt \"seccomp=\"");
  CHECK_THROWS_WITH(parse({"apparmor=docker-default"}), Catch::Contains("not supported"));
}

TEST_CASE("seccomp=PROFILE reads the file, through the cache", "[security]") {
  gctool::test::TempDir dir("security");
  const auto profile = dir.path() / "profile.json";
  gctool::write_file(profile, R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})");
  SecurityRequest request;
  request.security_opts = {"seccomp=" + profile.string()};
  request.seccomp_cache_dir = dir.path() / "cache";
  const auto options = parse_security(request);
  REQUIRE(options.seccomp);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path() / "cache"),
                      std::filesystem::directory_iterator()) == 1);

  gctool::write_file(profile, R"({"defaultAction": "SCMP_ACT_BOGUS"})");
  CHECK_THROWS_WITH(parse_security(request), fmt::format("seccomp profile \"{}\": unknown action "
                                                         "\"SCMP_ACT_BOGUS\"",
                                                         profile.string()));
}

TEST_CASE("flag --privileged: every available capability, no seccomp, no masked paths",
          "[security]") {
  SecurityRequest request;
  request.privileged = true;
  request.available_caps = kEverything & ~cap_bit(24);
  const auto options = parse_security(request);
  CHECK(options.caps.bounding == (kEverything & ~cap_bit(24)));
  CHECK_FALSE(options.seccomp);
  CHECK(options.masked_paths.empty());
  CHECK(options.readonly_paths.empty());
  CHECK(options.notices.empty());
}

TEST_CASE("a notice for a requested capability the host lacks", "[security]") {
  SecurityRequest request;
  request.cap_add = {"SYS_RESOURCE"};
  request.available_caps = kEverything & ~cap_bit(24);
  const auto options = parse_security(request);
  REQUIRE(options.notices.size() == 1);
  CHECK_THAT(options.notices[0], Catch::Contains("CAP_SYS_RESOURCE"));
  CHECK(options.caps.bounding == kDefaultCapabilities);
}

TEST_CASE("the init sequence gives Docker's default container", "[security][root]") {
  if (!gctool::test::is_root()) {
    WARN("skipped: needs root");
    return;
  }
  SecurityRequest request;  // the real host's capabilities
  SECTION("as root") {
    const auto status = status_after_init(parse_security(request), 0);
    CHECK(status.at("mount") == std::to_string(EPERM));
    CHECK(status.at("CapEff") == "00000000a80425fb");
    CHECK(status.at("CapBnd") == "00000000a80425fb");
    CHECK(status.at("CapInh") == "0000000000000000");
    CHECK(status.at("CapAmb") == "0000000000000000");
    CHECK(status.at("NoNewPrivs") == "1");
    CHECK(status.at("Seccomp") == "2");
  }
  SECTION("as uid 1000") {
    const auto status = status_after_init(parse_security(request), 1000);
    CHECK(status.at("CapEff") == "0000000000000000");
    CHECK(status.at("CapPrm") == "0000000000000000");
    CHECK(status.at("CapBnd") == "00000000a80425fb");
    CHECK(status.at("NoNewPrivs") == "1");
    CHECK(status.at("Seccomp") == "2");
  }
  SECTION("no-new-privileges=false: the filter goes in while still privileged") {
    request.security_opts = {"no-new-privileges=false"};
    const auto status = status_after_init(parse_security(request), 1000);
    CHECK(status.at("NoNewPrivs") == "0");
    CHECK(status.at("Seccomp") == "2");
    CHECK(status.at("CapBnd") == "00000000a80425fb");
  }
  SECTION("--cap-add SYS_ADMIN lifts the filter's mount rules too") {
    request.cap_add = {"SYS_ADMIN"};
    const auto status = status_after_init(parse_security(request), 0);
    CHECK(status.at("mount") == "0");  // in the child's private mount namespace
    CHECK(status.at("Seccomp") == "2");
    CHECK(status.at("CapEff") == fmt::format("{:016x}", kDefaultCapabilities | cap_bit(21)));
  }
  SECTION("privileged") {
    request.privileged = true;
    const auto status = status_after_init(parse_security(request), 0);
    CHECK(status.at("Seccomp") == "0");
    CHECK(std::stoull(status.at("CapEff"), nullptr, 16) == available_capabilities());
  }
}

TEST_CASE("masked and read-only paths inside a new root", "[security][root]") {
  if (!gctool::test::is_root()) {
    WARN("skipped: needs root");
    return;
  }
  gctool::test::TempDir dir("security-paths");
  const auto root = dir.path();
  std::filesystem::create_directories(root / "proc");
  std::filesystem::create_directories(root / "sys");
  const auto options = parse({});

  const auto result = run_in_child([&](int out) {
    if (!gctool::test::private_mount_namespace() ||
        ::mount("proc", (root / "proc").c_str(), "proc", 0, nullptr) != 0 ||
        ::mount("sysfs", (root / "sys").c_str(), "sysfs", 0, nullptr) != 0) {
      return 1;
    }
    const gctool::UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    const gctool::UniqueFd null(::open("/dev/null", O_PATH | O_CLOEXEC));
    const auto status =
        apply_path_restrictions(root_fd, null, options.masked_paths, options.readonly_paths);
    if (!status.ok()) {
      gctool::test::report(out, fmt::format("failed={} {}\n", status.step, status.path));
      return 2;
    }
    // /proc/keys and /proc/interrupts exist on every kernel with procfs; kcore may not.
    struct stat st {};
    ::stat((root / "proc/keys").c_str(), &st);
    gctool::test::report(out, fmt::format("keys_chr={}\n", S_ISCHR(st.st_mode) ? 1 : 0));
    gctool::test::report(
        out, fmt::format("keys_bytes={}\n", gctool::read_file(root / "proc/keys").size()));
    gctool::test::report(out, fmt::format("interrupts_bytes={}\n",
                                          gctool::read_file(root / "proc/interrupts").size()));
    const bool has_firmware = std::filesystem::exists("/sys/firmware");
    const auto firmware = root / "sys/firmware";
    gctool::test::report(out,
                         fmt::format("firmware_empty={}\n",
                                     !has_firmware || std::filesystem::is_empty(firmware) ? 1 : 0));
    report_call(out, "firmware_write", ::mkdir((firmware / "x").c_str(), 0755));
    report_call(out, "sysrq", ::open((root / "proc/sysrq-trigger").c_str(), O_WRONLY));
    report_call(out, "proc_sys", ::open((root / "proc/sys/kernel/hostname").c_str(), O_WRONLY));
    return 0;
  });
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto found = parse_report(result.output);
  CHECK(found.at("keys_chr") == "1");
  CHECK(found.at("keys_bytes") == "0");
  CHECK(found.at("interrupts_bytes") == "0");
  CHECK(found.at("firmware_empty") == "1");
  CHECK(found.at("firmware_write") == std::to_string(EROFS));
  const bool has_sysrq = std::filesystem::exists("/proc/sysrq-trigger");
  CHECK(found.at("sysrq") == std::to_string(has_sysrq ? EROFS : ENOENT));
  CHECK(found.at("proc_sys") == std::to_string(EROFS));
  CHECK(gctool::test::mounts_under(root.string()).empty());
}

TEST_CASE("a symlink in the root never redirects a mask", "[security][root]") {
  if (!gctool::test::is_root()) {
    WARN("skipped: needs root");
    return;
  }
  gctool::test::TempDir dir("security-link");
  std::filesystem::create_directory_symlink("/", dir.path() / "proc");
  const std::vector<std::string> masked = {"/proc/kcore"};
  const auto result = run_in_child([&](int out) {
    if (!gctool::test::private_mount_namespace()) {
      return 1;
    }
    const gctool::UniqueFd root_fd(::open(dir.str().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    const gctool::UniqueFd null(::open("/dev/null", O_PATH | O_CLOEXEC));
    const auto status = apply_path_restrictions(root_fd, null, masked, {});
    gctool::test::report(out, fmt::format("error={}\n", status.error));
    return 0;
  });
  REQUIRE(result.exit_code == 0);
  CHECK(parse_report(result.output).at("error") == std::to_string(ELOOP));
}

TEST_CASE("a file is masked only from the null device, never from a file posing as it",
          "[security][root]") {
  if (!gctool::test::is_root()) {
    WARN("skipped: needs root");
    return;
  }
  gctool::test::TempDir dir("security-null");
  const auto root = dir.path();
  std::filesystem::create_directories(root / "proc");
  const auto fake_null = root / "not-null";
  gctool::write_file(fake_null, "host data\n");
  const std::vector<std::string> masked = {"/proc/keys"};
  const auto result = run_in_child([&](int out) {
    if (!gctool::test::private_mount_namespace() ||
        ::mount("proc", (root / "proc").c_str(), "proc", 0, nullptr) != 0) {
      return 1;
    }
    const gctool::UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    const gctool::UniqueFd fake(::open(fake_null.c_str(), O_PATH | O_CLOEXEC));
    const auto status = apply_path_restrictions(root_fd, fake, masked, {});
    gctool::test::report(out, fmt::format("error={}\n", status.error));
    return 0;
  });
  REQUIRE(result.exit_code == 0);
  CHECK(parse_report(result.output).at("error") == std::to_string(EXDEV));
  CHECK(gctool::test::mounts_under(root.string()).empty());
}
