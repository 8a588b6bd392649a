// Docker's rules for combining an image with `run` flags.
#include <catch2/catch.hpp>

#include "gctool/container/spec.hpp"
#include "gctool/core/error.hpp"

using namespace gctool::container;

TEST_CASE("parse_volume") {
  CHECK(parse_volume("/a:/b") == BindMount{"/a", "/b", false, ""});
  CHECK(parse_volume("/a/:/b/c/:ro") == BindMount{"/a", "/b/c", true, ""});
  CHECK(parse_volume("/a:/b:rw") == BindMount{"/a", "/b", false, ""});
  CHECK_THROWS_AS(parse_volume("/a"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("a:/b"), gctool::Error);
  CHECK(parse_volume("data:/d/:ro") == BindMount{"", "/d", true, "data"});
  CHECK(parse_volume("my_vol.1-x:/d") == BindMount{"", "/d", false, "my_vol.1-x"});
  CHECK_THROWS_AS(parse_volume("./data:/d"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("-data:/d"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("da ta:/d"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/b:xx"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/proc"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/sys/fs/x"), gctool::Error);
  CHECK_THROWS_AS(parse_volume("/a:/x/../proc/x"), gctool::Error);
  CHECK(parse_volume("/a:/processes") == BindMount{"/a", "/processes", false, ""});
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
