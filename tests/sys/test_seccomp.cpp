#include <fcntl.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "child_probe.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/sys/seccomp.hpp"
#include "test_support.hpp"

using namespace gctool::sys;
using gctool::test::parse_report;
using gctool::test::report_call;
using gctool::test::run_in_child;

namespace {

const CapMask kAdmin = cap_bit(*find_capability("SYS_ADMIN"));

// Whether the profile lets `name` through whatever its arguments.
bool allows(const SeccompProfile& profile, std::string_view name) {
  for (const auto& rule : profile.rules) {
    for (const auto& rule_name : rule.names) {
      if (rule_name == name && rule.args.empty() && rule.action == SCMP_ACT_ALLOW) {
        return true;
      }
    }
  }
  return false;
}

// Runs body in a child under the program (with no_new_privs), reporting its findings.
template <typename Body>
std::map<std::string, std::string> probe_under(const SeccompProgram& program, Body body) {
  const auto result = run_in_child([&](int out) {
    if (!gctool::test::private_mount_namespace() || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        apply_seccomp(program) != 0) {
      return 1;
    }
    gctool::test::report_status(out);
    body(out);
    return 0;
  });
  REQUIRE(result.exit_code == 0);
  return parse_report(result.output);
}

std::string profile_error(const std::string& json) {
  try {
    parse_seccomp_profile(json, "/etc/p.json", kDefaultCapabilities);
  } catch (const gctool::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("the default profile is Docker's allow-list", "[seccomp]") {
  const auto plain = default_seccomp_profile(kDefaultCapabilities);
  CHECK(plain.default_action == SCMP_ACT_ERRNO(EPERM));
  for (const auto* name : {"read", "openat", "execve", "fork", "wait4", "socketpair", "ptrace",
                           "fchmodat2", "mseal", "statmount", "arch_prctl", "setresuid"}) {
    CAPTURE(name);
    CHECK(allows(plain, name));
  }
  // Not named, or only for a capability or with some arguments.
  constexpr const char* kRefused[] = {
      "mount",          "unshare",      "setns",  "clone",   "clone3",         "open_tree",
      "open_tree_attr", "file_setattr", "keyctl", "add_key", "io_uring_setup", "userfaultfd",
      "reboot",         "kexec_load",   "swapon", "socket",  "personality",    "open_by_handle_at",
      "init_module",    "move_pages"};
  for (const auto* name : kRefused) {
    CAPTURE(name);
    CHECK_FALSE(allows(plain, name));
  }
}

TEST_CASE("each capability of the container allows its calls", "[seccomp]") {
  const std::pair<const char*, const char*> kCalls[] = {
      {"SYS_ADMIN", "mount"},
      {"SYS_ADMIN", "unshare"},
      {"SYS_ADMIN", "setns"},
      {"SYS_ADMIN", "clone"},
      {"SYS_ADMIN", "clone3"},
      {"SYS_ADMIN", "open_tree"},
      {"SYS_ADMIN", "bpf"},
      {"SYS_ADMIN", "lsm_list_modules"},
      {"SYS_PTRACE", "kcmp"},
      {"SYS_PTRACE", "pidfd_getfd"},
      {"SYS_BOOT", "reboot"},
      {"SYS_MODULE", "finit_module"},
      {"SYS_TIME", "clock_settime"},
      {"SYS_NICE", "mbind"},
      {"SYS_RAWIO", "iopl"},
      {"SYS_PACCT", "acct"},
      {"SYSLOG", "syslog"},
      {"BPF", "bpf"},
      {"PERFMON", "perf_event_open"},
      {"SYS_CHROOT", "chroot"},
      {"DAC_READ_SEARCH", "open_by_handle_at"},
      {"SYS_TTY_CONFIG", "vhangup"},
  };
  // SYS_CHROOT is one of Docker's defaults: without it the call is refused too.
  const CapMask base = kDefaultCapabilities & ~cap_bit(*find_capability("SYS_CHROOT"));
  for (const auto& [cap, name] : kCalls) {
    CAPTURE(cap, name);
    CHECK_FALSE(allows(default_seccomp_profile(base), name));
    const auto with = default_seccomp_profile(base | cap_bit(*find_capability(cap)));
    CHECK(allows(with, name));
    CHECK(canonical_text(with) != canonical_text(default_seccomp_profile(base)));
  }
  // Never, whatever the capabilities: keyrings are not namespaced, io_uring bypasses the filter.
  const auto all = default_seccomp_profile(~CapMask{0});
  CHECK_FALSE(allows(all, "keyctl"));
  CHECK_FALSE(allows(all, "io_uring_setup"));
  CHECK_FALSE(allows(all, "kexec_load"));
}

TEST_CASE("the default filter blocks what containers must not do", "[seccomp][root]") {
  const auto program = compile_seccomp(default_seccomp_profile(kDefaultCapabilities));
  REQUIRE(program.filter.size() > 10);

  const auto found = probe_under(program, [](int out) {
    report_call(out, "mount", ::mount("none", "/mnt", "tmpfs", 0, nullptr));
    report_call(out, "unshare", ::unshare(CLONE_NEWNS));
    report_call(out, "keyctl", ::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
    io_uring_params params{};
    report_call(out, "io_uring_setup", ::syscall(SYS_io_uring_setup, 4, &params));
    report_call(out, "clone3", ::syscall(SYS_clone3, nullptr, 0));
    // Should fail; if it did not, the new child must not run the rest of this probe.
    const long cloned = ::syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (cloned == 0) {
      ::_exit(0);
    }
    report_call(out, "clone_newnet", cloned);
    report_call(out, "setns", ::setns(0, CLONE_NEWNS));
    report_call(out, "personality_norandom", ::syscall(SYS_personality, 0x0040000));
    report_call(out, "personality_query", ::syscall(SYS_personality, 0xffffffffUL));
    report_call(out, "getpid", ::getpid());
    // An allow-list: calls it does not name fail with EPERM, the newest included. open_tree_attr
    // (Linux 6.15) with no flags only opens "/" as O_PATH.
    report_call(out, "open_tree_attr", ::syscall(467, AT_FDCWD, "/", 0, nullptr, 0));
    report_call(out, "file_getattr", ::syscall(468, -1, nullptr, nullptr, 0, 0));
    report_call(out, "nr_470", ::syscall(470, 0, 0, 0, 0, 0));
    report_call(out, "nr_1000", ::syscall(1000, 0, 0, 0, 0, 0));
    report_call(out, "socket_vsock", ::socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    const int inet = ::socket(AF_INET, SOCK_DGRAM, 0);
    report_call(out, "socket_inet", inet);
    ::close(inet);
    // mseal (6.10) is unknown to Debian's libseccomp but in the list: EINVAL from the kernel for
    // an unaligned address.
    report_call(out, "mseal", ::syscall(462, 1, 4096, 0));

    // Ordinary work still runs: fork, execve, threads.
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/true", "true", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = -1;
    ::waitpid(pid, &status, 0);
    gctool::test::report(out, fmt::format("exec_true={}\n", status));
    int from_thread = 0;
    std::thread([&] { from_thread = 42; }).join();
    gctool::test::report(out, fmt::format("thread={}\n", from_thread));
  });
  CHECK(found.at("Seccomp") == "2");
  CHECK(found.at("NoNewPrivs") == "1");
  CHECK(found.at("mount") == std::to_string(EPERM));
  CHECK(found.at("unshare") == std::to_string(EPERM));
  CHECK(found.at("keyctl") == std::to_string(EPERM));
  CHECK(found.at("io_uring_setup") == std::to_string(EPERM));
  CHECK(found.at("clone3") == std::to_string(ENOSYS));
  CHECK(found.at("clone_newnet") == std::to_string(EPERM));
  CHECK(found.at("setns") == std::to_string(EPERM));
  CHECK(found.at("personality_norandom") == std::to_string(EPERM));
  CHECK(found.at("personality_query") == "0");
  CHECK(found.at("getpid") == "0");
  CHECK(found.at("open_tree_attr") == std::to_string(EPERM));
  CHECK(found.at("file_getattr") == std::to_string(EPERM));
  CHECK(found.at("nr_470") == std::to_string(EPERM));
  CHECK(found.at("nr_1000") == std::to_string(EPERM));
  CHECK(found.at("socket_vsock") == std::to_string(EPERM));
  CHECK(found.at("socket_inet") == "0");
  CHECK(found.at("mseal") != std::to_string(EPERM));
  CHECK(found.at("exec_true") == "0");
  CHECK(found.at("thread") == "42");
}

TEST_CASE("a Docker-format profile that denies mkdir", "[seccomp][root]") {
  const auto profile = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                 "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
    "syscalls": [
      {"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO",
       "errnoRet": 13},
      {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["chdir"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["fchdir"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}},
      {"names": ["umask"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 0, "value": 63, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
    ]})",
                                             "p.json", kDefaultCapabilities);
  CHECK(profile.arches.size() == 3);
  REQUIRE(profile.rules.size() == 3);  // chdir needs CAP_SYS_ADMIN, fchdir is excluded on amd64
  const auto program = compile_seccomp(profile);

  gctool::test::TempDir dir("seccomp");
  const auto found = probe_under(program, [&](int out) {
    report_call(out, "mkdir", ::mkdir((dir.path() / "x").c_str(), 0755));
    report_call(out, "rmdir", ::rmdir(dir.str().c_str()));
    report_call(out, "chdir", ::chdir("/"));
    report_call(out, "umask63", ::syscall(SYS_umask, 63) >= 0 ? 0 : -1);
    report_call(out, "umask18", ::syscall(SYS_umask, 18) >= 0 ? 0 : -1);
  });
  CHECK(found.at("mkdir") == std::to_string(EACCES));
  CHECK(found.at("rmdir") == std::to_string(EPERM));
  CHECK(found.at("chdir") == "0");
  CHECK(found.at("umask63") == std::to_string(EPERM));
  CHECK(found.at("umask18") == "0");
  CHECK_FALSE(std::filesystem::exists(dir.path() / "x"));
}

TEST_CASE("an allow-list profile as Docker writes them", "[seccomp][root]") {
  const auto profile = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
      {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
      {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
      {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}
    ],
    "syscalls": [
      {"names": ["read", "write", "openat", "close", "fstat", "newfstatat", "lseek", "brk",
                 "mmap", "munmap", "mremap", "exit", "exit_group", "getpid"],
       "action": "SCMP_ACT_ALLOW"},
      {"names": ["mseal", "statmount"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["getuid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
      {"names": ["getgid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
      {"names": ["getegid"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
      {"names": ["geteuid"], "action": "SCMP_ACT_ALLOW",
       "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
      {"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["umask"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 4294967232, "op": "SCMP_CMP_MASKED_EQ"}]}
    ]})",
                                             "docker.json", kDefaultCapabilities);
  CHECK(profile.arches.size() == 3);
  const auto found = probe_under(compile_seccomp(profile), [](int out) {
    report_call(out, "getpid", ::getpid());
    report_call(out, "getuid", ::syscall(SYS_getuid));
    report_call(out, "getgid", ::syscall(SYS_getgid));
    report_call(out, "getegid", ::syscall(SYS_getegid));
    report_call(out, "geteuid", ::syscall(SYS_geteuid));
    report_call(out, "getppid", ::syscall(SYS_getppid));
    report_call(out, "umask_small", ::syscall(SYS_umask, 022));
    report_call(out, "umask_big", ::syscall(SYS_umask, 0100));
    // Newer than Debian's libseccomp knows, allowed all the same: the kernel's own answers.
    report_call(out, "mseal", ::syscall(462, 1, 4096, 0));
    report_call(out, "statmount", ::syscall(457, nullptr, nullptr, 0, 0));
  });
  CHECK(found.at("getpid") == "0");
  CHECK(found.at("getuid") == "0");
  CHECK(found.at("getgid") == std::to_string(EPERM));
  CHECK(found.at("getegid") == std::to_string(EPERM));
  CHECK(found.at("geteuid") == "0");
  CHECK(found.at("getppid") == std::to_string(EPERM));
  CHECK(found.at("umask_small") == "0");
  CHECK(found.at("umask_big") == std::to_string(EPERM));
  CHECK(found.at("mseal") != std::to_string(EPERM));
  CHECK(found.at("statmount") != std::to_string(EPERM));
}

TEST_CASE("bad profiles give one line naming the file", "[seccomp]") {
  CHECK_THAT(profile_error("{ not json"),
             Catch::StartsWith("seccomp profile \"/etc/p.json\": malformed JSON: parse error at "
                               "line 1, column 4: syntax error"));
  CHECK(profile_error(R"({"defaultAction": "SCMP_ACT_FOO"})") ==
        "seccomp profile \"/etc/p.json\": unknown action \"SCMP_ACT_FOO\"");
  CHECK(profile_error(R"({"defaultAction": "SCMP_ACT_ALLOW",
                          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})") ==
        "seccomp profile \"/etc/p.json\": unknown action \"SCMP_ACT_NOTIFY\"");
  CHECK(profile_error(R"({"syscalls": []})") ==
        "seccomp profile \"/etc/p.json\": no defaultAction");
  CHECK(
      profile_error(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})") ==
      "seccomp profile \"/etc/p.json\": unknown architecture \"SCMP_ARCH_Z80\"");
  CHECK_THAT(profile_error(R"({"defaultAction": 3})"),
             Catch::StartsWith("seccomp profile \"/etc/p.json\": type must be string"));
  CHECK_THAT(profile_error(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"],
               "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_ALMOST"}]}]})"),
             Catch::Contains("unknown operator \"SCMP_CMP_ALMOST\""));

  gctool::test::TempDir dir("seccomp");
  CHECK_THROWS_WITH(load_seccomp_profile(dir.path() / "missing.json", 0),
                    Catch::Contains("missing.json") && Catch::Contains("No such file"));
}

TEST_CASE("compiled filters are cached by profile", "[seccomp]") {
  gctool::test::TempDir dir("seccomp-cache");
  const auto cache_dir = dir.path() / "cache" / "seccomp";
  const auto profile = default_seccomp_profile(kDefaultCapabilities);
  const auto cache_file = cache_dir / seccomp_cache_name(profile);

  const auto first = load_or_compile_seccomp(profile, cache_dir);
  REQUIRE(std::filesystem::is_regular_file(cache_file));
  CHECK((std::filesystem::status(cache_dir).permissions() & std::filesystem::perms::others_all) ==
        std::filesystem::perms::none);
  struct stat before {};
  REQUIRE(::stat(cache_file.c_str(), &before) == 0);

  const auto second = load_or_compile_seccomp(profile, cache_dir);
  struct stat after {};
  REQUIRE(::stat(cache_file.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // read back, not rewritten
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  REQUIRE(second.filter.size() == first.filter.size());
  CHECK(std::memcmp(second.filter.data(), first.filter.data(),
                    first.filter.size() * sizeof(sock_filter)) == 0);
  CHECK(std::distance(std::filesystem::directory_iterator(cache_dir),
                      std::filesystem::directory_iterator()) == 1);

  SECTION("another profile gets another file") {
    const auto other = default_seccomp_profile(kDefaultCapabilities | kAdmin);
    CHECK(seccomp_cache_name(other) != seccomp_cache_name(profile));
    load_or_compile_seccomp(other, cache_dir);
    CHECK(std::filesystem::exists(cache_dir / seccomp_cache_name(other)));
  }
  SECTION("a corrupt cache file is replaced") {
    gctool::write_file(cache_file, "garbage");
    const auto again = load_or_compile_seccomp(profile, cache_dir);
    CHECK(again.filter.size() == first.filter.size());
    CHECK(std::filesystem::file_size(cache_file) > 16);
  }
}

TEST_CASE("a cache file is used only when it is root's own and holds the whole profile",
          "[seccomp][root]") {
  gctool::test::TempDir dir("seccomp-trust");
  const auto cache_dir = dir.path() / "seccomp";
  const auto profile = default_seccomp_profile(kDefaultCapabilities);
  const auto other = default_seccomp_profile(kDefaultCapabilities | kAdmin);
  const auto file = cache_dir / seccomp_cache_name(profile);
  const auto other_file = cache_dir / seccomp_cache_name(other);
  const auto own = load_or_compile_seccomp(profile, cache_dir);
  const auto foreign = load_or_compile_seccomp(other, cache_dir);
  REQUIRE(foreign.filter.size() != own.filter.size());
  const auto program_bytes = [](const SeccompProgram& p) {
    return std::string(reinterpret_cast<const char*>(p.filter.data()),
                       p.filter.size() * sizeof(sock_filter));
  };
  // The profile's own header with the other profile's program: what a writer of the file could
  // put there.
  const auto original = gctool::read_file(file);
  const auto header = original.substr(0, original.size() - program_bytes(own).size());
  const auto forged = header + program_bytes(foreign);
  const auto loaded_size = [&] {
    return load_or_compile_seccomp(profile, cache_dir).filter.size();
  };

  SECTION("root's own file is trusted as it is") {
    gctool::write_file(file, forged);
    ::chmod(file.c_str(), 0600);
    CHECK(loaded_size() == foreign.filter.size());
  }
  SECTION("a file of another user is not") {
    gctool::write_file(file, forged);
    REQUIRE(::chown(file.c_str(), 1000, 1000) == 0);
    CHECK(loaded_size() == own.filter.size());
  }
  SECTION("a file others may write is not") {
    gctool::write_file(file, forged);
    REQUIRE(::chmod(file.c_str(), 0666) == 0);
    CHECK(loaded_size() == own.filter.size());
  }
  SECTION("a directory others may write is neither read nor written") {
    gctool::write_file(file, forged);
    ::chmod(file.c_str(), 0600);
    REQUIRE(::chmod(cache_dir.c_str(), 0777) == 0);
    CHECK(loaded_size() == own.filter.size());
    CHECK(gctool::read_file(file) == forged);
  }
  SECTION("a symlink is not followed") {
    std::filesystem::remove(file);
    std::filesystem::create_symlink(other_file, file);
    CHECK(loaded_size() == own.filter.size());
  }
  SECTION("another profile's file under this profile's name is a miss, and replaced") {
    // A profile crafted so that its name collides stores its own key text: it never matches.
    std::filesystem::copy_file(other_file, file, std::filesystem::copy_options::overwrite_existing);
    CHECK(loaded_size() == own.filter.size());
    CHECK(gctool::read_file(file) == original);
  }
}
