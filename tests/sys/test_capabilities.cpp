#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "child_probe.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/sys/capabilities.hpp"
#include "test_support.hpp"

using namespace gctool::sys;
using gctool::test::parse_report;
using gctool::test::run_in_child;

namespace {

using Names = std::vector<std::string>;

constexpr CapMask kEverything = all_capabilities(kLastKnownCap);
const CapMask kSysResource = cap_bit(*find_capability("SYS_RESOURCE"));

ResolvedCapabilities resolve(const Names& add, const Names& drop, bool privileged = false,
                             CapMask available = kEverything) {
  return resolve_capabilities(add, drop, privileged, available);
}

std::string hex(CapMask mask) {
  return fmt::format("{:016x}", mask);
}

}  // namespace

TEST_CASE("capability names: with or without CAP_, any case", "[capabilities]") {
  CHECK(find_capability("CAP_CHOWN") == 0);
  CHECK(find_capability("chown") == 0);
  CHECK(find_capability("cap_net_admin") == 12);
  CHECK(find_capability("Sys_Admin") == 21);
  CHECK(find_capability("CHECKPOINT_RESTORE") == 40);
  CHECK_FALSE(find_capability("CAP_FOO"));
  CHECK_FALSE(find_capability("CAP_"));
  CHECK(capability_name(24) == "CAP_SYS_RESOURCE");
  CHECK(capability_names(cap_bit(0) | cap_bit(5)) == Names{"CAP_CHOWN", "CAP_KILL"});
}

TEST_CASE("unknown capability names are refused", "[capabilities]") {
  CHECK_THROWS_WITH(parse_capability("CAP_FOO"), "unknown capability \"CAP_FOO\"");
  CHECK_THROWS_WITH(parse_capability("foo"), "unknown capability \"CAP_FOO\"");
  CHECK_THROWS_WITH(resolve({"NET_ADMIN", "bogus"}, {}), "unknown capability \"CAP_BOGUS\"");
  CHECK_THROWS_WITH(resolve({}, {"nope"}), "unknown capability \"CAP_NOPE\"");
  // Validated even when --privileged makes them moot.
  CHECK_THROWS_AS(resolve({"nope"}, {}, true), gctool::Error);
}

TEST_CASE("the default set is Docker's", "[capabilities]") {
  const auto caps = resolve({}, {});
  CHECK(hex(caps.sets.bounding) == "00000000a80425fb");
  CHECK(caps.sets.effective == caps.sets.bounding);
  CHECK(caps.sets.permitted == caps.sets.bounding);
  CHECK(caps.sets.inheritable == 0);
  CHECK(caps.sets.ambient == 0);
  CHECK(caps.notices.empty());
  CHECK(capability_names(kDefaultCapabilities) ==
        Names{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
              "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT",
              "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"});
}

TEST_CASE("flag --cap-add and --cap-drop", "[capabilities]") {
  const CapMask net_admin = cap_bit(12);
  const CapMask chown = cap_bit(0);

  SECTION("add and drop single capabilities") {
    const auto caps = resolve({"net_admin"}, {"CAP_CHOWN", "mknod"});
    CHECK(caps.sets.bounding == ((kDefaultCapabilities | net_admin) & ~chown & ~cap_bit(27)));
  }
  SECTION("drop ALL keeps only what is added") {
    CHECK(resolve({"NET_ADMIN"}, {"all"}).sets.bounding == net_admin);
    CHECK(resolve({}, {"CAP_ALL"}).sets.bounding == 0);
  }
  SECTION("add ALL gives everything but what is dropped") {
    CHECK(resolve({"ALL"}, {"chown"}).sets.bounding == (kEverything & ~chown));
  }
  SECTION("privileged gives everything available and ignores add/drop") {
    const CapMask available = kEverything & ~kSysResource;
    const auto caps = resolve({"NET_ADMIN"}, {"ALL"}, true, available);
    CHECK(caps.sets.bounding == available);
    CHECK(caps.sets.effective == available);
    CHECK(caps.notices.empty());
  }
}

TEST_CASE("capabilities the host lacks are dropped with a notice", "[capabilities]") {
  const CapMask available = kEverything & ~kSysResource;

  const auto added = resolve({"SYS_RESOURCE", "NET_ADMIN"}, {}, false, available);
  CHECK((added.sets.bounding & kSysResource) == 0);
  CHECK((added.sets.bounding & cap_bit(12)) != 0);
  REQUIRE(added.notices.size() == 1);
  CHECK_THAT(added.notices[0], Catch::Contains("CAP_SYS_RESOURCE"));

  // ALL means "all that there is": no notice.
  const auto all = resolve({"ALL"}, {}, false, available);
  CHECK(all.sets.bounding == available);
  CHECK(all.notices.empty());

  // When the host has it, it is granted silently.
  const auto granted = resolve({"SYS_RESOURCE"}, {}, false, kEverything);
  CHECK((granted.sets.bounding & kSysResource) != 0);
  CHECK(granted.notices.empty());
}

TEST_CASE("available_capabilities reads our own bounding set", "[capabilities]") {
  const auto status = parse_report(gctool::read_file("/proc/self/status"));
  const CapMask bounding = std::stoull(status.at("CapBnd"), nullptr, 16);
  const CapMask permitted = std::stoull(status.at("CapPrm"), nullptr, 16);
  CHECK(available_capabilities() == (bounding & permitted));
  CHECK(kernel_last_cap() >= 40);

  const auto caps =
      resolve_capabilities(Names{"SYS_RESOURCE"}, Names{}, false, available_capabilities());
  const bool host_has_it = (bounding & permitted & kSysResource) != 0;
  CHECK(caps.notices.empty() == host_has_it);
  CHECK(((caps.sets.bounding & kSysResource) != 0) == host_has_it);
}

TEST_CASE("applying the default set in a child", "[capabilities][root]") {
  if (!gctool::test::is_root()) {
    WARN("skipped: needs root");
    return;
  }
  const auto caps = resolve_capabilities(Names{}, Names{}, false, available_capabilities());
  const int last_cap = kernel_last_cap();

  SECTION("as root") {
    const auto result = run_in_child([&](int out) {
      if (drop_bounding_set(caps.sets.bounding, last_cap) < 0 ||
          apply_capability_sets(caps.sets) < 0) {
        return 1;
      }
      gctool::test::report_status(out);
      return 0;
    });
    REQUIRE(result.exit_code == 0);
    const auto status = parse_report(result.output);
    CHECK(status.at("CapEff") == "00000000a80425fb");
    CHECK(status.at("CapPrm") == "00000000a80425fb");
    CHECK(status.at("CapBnd") == "00000000a80425fb");
    CHECK(status.at("CapInh") == "0000000000000000");
    CHECK(status.at("CapAmb") == "0000000000000000");
  }

  SECTION("as uid 1000: kept across setuid, cleared by exec") {
    const auto result = run_in_child([&](int out) {
      if (drop_bounding_set(caps.sets.bounding, last_cap) < 0 || set_keep_capabilities(true) < 0 ||
          ::setgroups(0, nullptr) != 0 || ::setresgid(1000, 1000, 1000) != 0 ||
          ::setresuid(1000, 1000, 1000) != 0 || apply_capability_sets(caps.sets) < 0) {
        return 1;
      }
      gctool::test::report(out, "before exec\n");
      gctool::test::report_status(out);
      ::dup2(out, STDOUT_FILENO);
      ::execl("/bin/cat", "cat", "/proc/self/status", static_cast<char*>(nullptr));
      return 2;
    });
    REQUIRE(result.exit_code == 0);
    const auto split = result.output.find("Name:");
    REQUIRE(split != std::string::npos);
    const auto before = parse_report(result.output.substr(0, split));
    const auto after = parse_report(result.output.substr(split));
    CHECK(before.at("CapEff") == "00000000a80425fb");
    CHECK(after.at("Uid").rfind("1000", 0) == 0);
    CHECK(after.at("CapEff") == "0000000000000000");
    CHECK(after.at("CapPrm") == "0000000000000000");
    CHECK(after.at("CapBnd") == "00000000a80425fb");
    CHECK(after.at("CapAmb") == "0000000000000000");
  }
}
