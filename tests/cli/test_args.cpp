// Docker's command-line syntax: unknown flags refused as such (never taken for an image or a
// container name), pflag's flag forms, usage lines, `help VERB`, completion, and the README's
// coverage table kept equal to the command table.
#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::RunResult;

namespace {
RunResult cli(const std::vector<std::string>& args) {
  return gctool::test::gctool(args);
}
}  // namespace
using gctool::test::TestRoot;
using gctool::test::unique_name;

TEST_CASE("an unknown flag is one line naming it, exit 125, nothing created", "[root]") {
  TestRoot root;
  const auto unknown = root.run({"run", "--runtime", "runc", "busybox"});
  CHECK(unknown.exit_code == 125);
  CHECK(unknown.err == "gctool: unknown flag: --runtime (see 'gctool run --help')\n");
  const auto shorthand = root.run({"exec", "-z", "c1", "true"});
  CHECK(shorthand.exit_code == 125);
  CHECK(shorthand.err == "gctool: unknown shorthand flag: 'z' in -z (see 'gctool exec --help')\n");
  const auto ps = root.run({"ps", "--nosuch"});
  CHECK(ps.exit_code == 125);
  CHECK(ps.err == "gctool: unknown flag: --nosuch (see 'gctool ps --help')\n");
  const auto missing = root.run({"run", "--name"});
  CHECK(missing.err == "gctool: flag needs an argument: --name (see 'gctool run --help')\n");
  const auto few = root.run({"stop"});
  CHECK(few.exit_code == 125);
  CHECK(few.err ==
        "gctool: \"stop\" requires at least 1 argument (usage: gctool stop [OPTIONS] CONTAINER "
        "[CONTAINER...])\n");
  CHECK(root.run({"network", "nosuch"}).err ==
        "gctool: unknown command \"network nosuch\" (see 'gctool network --help')\n");
  CHECK(root.run({"run", "-a"}).exit_code == 125);
  CHECK(root.run({"ps", "-a"}).out.find("CONTAINER ID") == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("flags after the image are the command's; pflag's forms are read as Docker reads them",
          "[root]") {
  TestRoot root;
  const auto name = unique_name("args");
  const auto out = root.run({"run", "--name", name, "-e=FOO=bar", "--memory=64m", "--network=none",
                             "busybox", "sh", "-c", "echo $FOO -x"});
  CHECK(out.exit_code == 0);
  CHECK(out.out == "bar -x\n");
  CHECK(root.run({"inspect", "-f", "{{.HostConfig.Memory}}", name}).out == "67108864\n");
  CHECK(root.run({"rm", name}).exit_code == 0);
  // -di: -d and -i bundled.
  const auto bundled =
      root.run({"run", "-di", "--name", name, "--network", "none", "busybox", "sleep", "30"});
  REQUIRE(bundled.exit_code == 0);
  CHECK(root.run({"inspect", "-f", "{{.State.Status}} {{.Config.OpenStdin}}", name}).out ==
        "running true\n");
  CHECK(root.run({"rm", "-f", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("usage lines name the arguments; help VERB prints the verb's help") {
  const auto help = cli({"help", "run"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("Usage: gctool run [OPTIONS] IMAGE [COMMAND] [ARG...]\n") !=
        std::string::npos);
  CHECK(help.out == cli({"run", "--help"}).out);
  CHECK(cli({"help", "network", "create"})
            .out.find("Usage: gctool network create [OPTIONS] NETWORK\n") != std::string::npos);
  CHECK(cli({"help", "nosuch"}).exit_code == 125);
}

TEST_CASE("completion scripts come from the command table") {
  const auto bash = cli({"completion", "bash"});
  CHECK(bash.exit_code == 0);
  CHECK(bash.out.find("complete -F _gctool gctool") != std::string::npos);
  CHECK(bash.out.find("\"network\") subs=\"create ls list inspect prune connect disconnect rm "
                      "remove") != std::string::npos);
  CHECK(bash.out.find("--publish") != std::string::npos);
  CHECK(cli({"completion", "zsh"}).out.find("#compdef gctool\n") == 0);
  CHECK(cli({"completion", "fish"}).exit_code == 125);
}

TEST_CASE("README's Docker CLI coverage table is the one the command table makes") {
  std::ifstream in(std::string(GCTOOL_SOURCE_DIR) + "/README.md");
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto table = cli({"__coverage"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("| `run` flags | ") != std::string::npos);
  INFO("regenerate with: build/gctool __coverage README.md");
  CHECK(readme.find(table.out) != std::string::npos);
}
