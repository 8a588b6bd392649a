// Docker's rules for combining an image with `run` flags.
#include <sys/mount.h>

#include <catch2/catch.hpp>

#include "gctool/container/spec.hpp"
#include "gctool/core/error.hpp"

using namespace gctool::container;

namespace {

BindMount bind(std::string source, std::string destination, bool read_only, std::string volume,
               bool anonymous = false, std::string propagation = "") {
  BindMount b;
  b.source = std::move(source);
  b.destination = std::move(destination);
  b.read_only = read_only;
  b.volume = std::move(volume);
  b.anonymous = anonymous;
  b.propagation = std::move(propagation);
  return b;
}

}  // namespace

TEST_CASE("parse_volume") {
  CHECK(parse_volume("/a:/b") == bind("/a", "/b", false, ""));
  CHECK(parse_volume("/a/:/b/c/:ro") == bind("/a", "/b/c", true, ""));
  CHECK(parse_volume("/a:/b:rw") == bind("/a", "/b", false, ""));
  CHECK_THROWS_AS(parse_volume("a:/b"), gctool::Error);
  CHECK(parse_volume("data:/d/:ro") == bind("", "/d", true, "data"));
  CHECK(parse_volume("my_vol.1-x:/d") == bind("", "/d", false, "my_vol.1-x"));
  CHECK_THROWS_AS(parse_volume("-data:/d"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("da ta:/d"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/b:xx"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/proc"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/sys/fs/x"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/x/../proc/x"), gctool::Error);
  CHECK(parse_volume("/a:/processes") == bind("/a", "/processes", false, ""));
  // Docker 23+: relative host paths, from the working directory given.
  CHECK(parse_volume("./data:/d", "/work") == bind("/work/data", "/d", false, ""));
  CHECK(parse_volume("../up/:/d", "/work/x") == bind("/work/up", "/d", false, ""));
  CHECK(parse_volume(".:/d:ro", "/work") == bind("/work", "/d", true, ""));
  // An anonymous volume; Docker refuses one with a mode.
  CHECK(parse_volume("/a") == bind("", "/a", false, "", true));
  CHECK_THROWS_AS(parse_volume("/a:ro"), gctool::Error);
  // z and Z relabel nothing here; a propagation mode is kept for binds only.
  CHECK(parse_volume("/a:/b:ro,z") == bind("/a", "/b", true, ""));
  CHECK(parse_volume("/a:/b:Z") == bind("/a", "/b", false, ""));
  CHECK(parse_volume("/a:/b:rslave") == bind("/a", "/b", false, "", false, "rslave"));
  CHECK_THROWS_AS(parse_volume("v:/b:rslave"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/b:ro,rw"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/b:shared,slave"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/b:nocopy"), gctool::Error);
}

TEST_CASE("parse_mount and parse_tmpfs") {
  std::vector<BindMount> binds;
  std::vector<TmpfsMount> tmpfs;
  parse_mount("type=bind,source=/h,target=/c,readonly,bind-propagation=rshared", "/w", binds,
              tmpfs);
  parse_mount("type=bind,src=./rel,dst=/r", "/w", binds, tmpfs);
  parse_mount("source=vol,target=/v", "/w", binds, tmpfs);
  parse_mount("type=volume,target=/anon,ro=false", "/w", binds, tmpfs);
  parse_mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1700", "/w", binds, tmpfs);
  REQUIRE(binds.size() == 4);
  CHECK(binds[0] == bind("/h", "/c", true, "", false, "rshared"));
  CHECK(binds[1] == bind("/w/rel", "/r", false, ""));
  CHECK(binds[2] == bind("", "/v", false, "vol"));
  CHECK(binds[3] == bind("", "/anon", false, "", true));
  REQUIRE(tmpfs.size() == 1);
  CHECK(tmpfs[0] == TmpfsMount{"/t", "size=1m,mode=1700"});
  for (const auto* bad :
       {"type=nfs,target=/x", "type=bind,target=/x", "type=volume,source=v",
        "type=tmpfs,source=s,target=/t", "type=volume,target=/x,bogus=1",
        "type=volume,target=/x,tmpfs-size=1m", "type=tmpfs,target=/proc/x",
        "type=bind,source=/h,target=/x,readonly=maybe", "type=bind,source=rel,target=/x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_mount(bad, "/w", binds, tmpfs), gctool::Error);
  }
  CHECK(parse_tmpfs("/run") == TmpfsMount{"/run", ""});
  CHECK(parse_tmpfs("/run/:size=64k") == TmpfsMount{"/run", "size=64k"});
  CHECK_THROWS_AS(parse_tmpfs("run"), gctool::Error);
  CHECK_THROWS_AS(parse_tmpfs("/run:size=big"), gctool::Error);
  const auto data = tmpfs_mount_data("size=1m,mode=1777,exec,uid=5");
  CHECK(data.data == "size=1048576,mode=1777,uid=5");
  CHECK(data.flags == (MS_NOSUID | MS_NODEV));
  CHECK(tmpfs_mount_data("").flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC));
  CHECK_THROWS_AS(tmpfs_mount_data("mode=999"), gctool::Error);
  CHECK_THROWS_AS(tmpfs_mount_data("uid=-1"), gctool::Error);
}

TEST_CASE("parse_ulimit") {
  CHECK(parse_ulimit("nofile=10:20") == Ulimit{"nofile", 10, 20});
  CHECK(parse_ulimit("core=-1") == Ulimit{"core", -1, -1});
  CHECK(parse_ulimit("nproc=5:-1") == Ulimit{"nproc", 5, -1});
  for (const auto* bad : {"nofile", "=1", "nofile=", "nofile=x", "nofile=20:10", "nofile=-1:5",
                          "bogus=1", "nofile=1:2:3", "nofile=-2"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_ulimit(bad), gctool::Error);
  }
}

TEST_CASE("resolve_command") {
  using V = std::vector<std::string>;
  const auto [e1, c1] = resolve_command({"/entry"}, {"default"}, std::nullopt, {});
  CHECK(e1 == V{"/entry"});
  CHECK(c1 == V{"default"});
  const auto [e2, c2] = resolve_command({"/entry"}, {"default"}, std::nullopt, {"x", "y"});
  CHECK(c2 == V{"x", "y"});
  // --entrypoint drops the image's Cmd.
  const auto [e3, c3] = resolve_command({"/entry"}, {"default"}, std::string("sh"), {});
  CHECK(e3 == V{"sh"});
  CHECK(c3.empty());
  CHECK_THROWS_AS(resolve_command({}, {}, std::nullopt, {}), gctool::Error);
}

TEST_CASE("environment") {
  std::vector<std::string> env{"A=1", "B=2"};
  merge_env(env, {"B=3", "C=4"});
  CHECK(env == std::vector<std::string>{"A=1", "B=3", "C=4"});
  const auto lookup = [](const std::string& key) -> std::optional<std::string> {
    return key == "SET" ? std::optional<std::string>("v") : std::nullopt;
  };
  CHECK(expand_env_args({"X=1", "SET", "UNSET"}, lookup) ==
        std::vector<std::string>{"X=1", "SET=v"});
  CHECK(parse_env_file("# c\n\nA=1\r\n  B=2 \nSET\n") ==
        std::vector<std::string>{"A=1", "B=2", "SET"});
  CHECK_THROWS_AS(parse_env_file("A=1\nBAD NAME=2\n"), gctool::Error);
  CHECK(parse_env_file("A=with space\n") == std::vector<std::string>{"A=with space"});
  Spec spec;
  spec.tty = true;
  spec.env = {"PATH=/bin", "X=y"};
  const auto base = base_environment(spec, "h");
  CHECK(base == std::vector<std::string>{"PATH=/bin", "HOSTNAME=h", "TERM=xterm", "X=y"});
  CHECK(env_value(base, "X") == "y");
  CHECK(!env_value(base, "HOME"));
}
