// Resolving -u against a container's passwd and group files.
#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/sys/users.hpp"

using gctool::sys::resolve_exec_user;

namespace {
constexpr const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
    "broken line\n";
constexpr const char* kGroup =
    "root:x:0:\n"
    "alice:x:1000:\n"
    "wheel:x:10:root,alice\n"
    "audio:x:29:alice\n";
}  // namespace

TEST_CASE("resolve_exec_user") {
  SECTION("empty is root with root's home") {
    const auto u = resolve_exec_user("", kPasswd, kGroup);
    CHECK(u.uid == 0);
    CHECK(u.gid == 0);
    CHECK(u.home == "/root");
    CHECK(u.supplementary_gids == std::vector<gid_t>{10});
  }
  SECTION("a name gives uid, gid, home and groups") {
    const auto u = resolve_exec_user("alice", kPasswd, kGroup);
    CHECK(u.uid == 1000);
    CHECK(u.gid == 1000);
    CHECK(u.home == "/home/alice");
    CHECK(u.supplementary_gids == std::vector<gid_t>{10, 29});
  }
  SECTION("uid:group by name") {
    const auto u = resolve_exec_user("1000:wheel", kPasswd, kGroup);
    CHECK(u.uid == 1000);
    CHECK(u.gid == 10);
  }
  SECTION("unknown numeric ids are accepted") {
    const auto u = resolve_exec_user("4242:4343", kPasswd, kGroup);
    CHECK(u.uid == 4242);
    CHECK(u.gid == 4343);
    CHECK(u.home == "/");
    CHECK(u.supplementary_gids.empty());
  }
  SECTION("unknown names are errors") {
    CHECK_THROWS_AS(resolve_exec_user("bob", kPasswd, kGroup), gctool::Error);
    CHECK_THROWS_AS(resolve_exec_user("alice:nogroup", kPasswd, kGroup), gctool::Error);
    CHECK_THROWS_AS(resolve_exec_user("bob", "", ""), gctool::Error);
  }
}
