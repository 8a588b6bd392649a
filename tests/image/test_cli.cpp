// The `gctool image` verbs end to end, each test in its own temporary --root.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "image_support.hpp"

namespace fs = std::filesystem;
using gctool::test::RunResult;
using gctool::test::TarBuilder;
using gctool::test::TempDir;

namespace {

struct Cli {
  TempDir root{"gct-image"};
  RunResult operator()(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), {"--root", root.str()});
    return gctool::test::gctool(args, input);
  }
};

std::string trimmed(std::string s) {
  while (!s.empty() && s.back() == '\n') {
    s.pop_back();
  }
  return s;
}

}  // namespace

TEST_CASE("image import prints the id and image ls shows it like Docker", "[root]") {
  Cli cli;
  const auto name = gctool::test::unique_name("bb");
  const auto imported = cli({"image", "import", gctool::test::busybox_tarball().string(), name});
  REQUIRE(imported.exit_code == 0);
  const std::string id = trimmed(imported.out);
  CHECK(id.starts_with("sha256:"));
  CHECK(id.size() == 71);

  const auto ls = cli({"image", "ls"});
  REQUIRE(ls.exit_code == 0);
  CHECK(ls.out.starts_with("REPOSITORY"));
  CHECK_THAT(ls.out, Catch::Contains("TAG") && Catch::Contains("IMAGE ID") &&
                         Catch::Contains("CREATED") && Catch::Contains("SIZE"));
  CHECK_THAT(ls.out, Catch::Contains(name) && Catch::Contains("latest") &&
                         Catch::Contains(id.substr(7, 12)) && Catch::Contains("ago") &&
                         Catch::Contains("MB"));
  CHECK(cli({"images", "-q"}).out == id.substr(7, 12) + "\n");
  CHECK(cli({"images", "-a", "-q"}).out == id.substr(7, 12) + "\n");  // Docker's -a accepted
  CHECK(cli({"image", "ls", "-q", "--no-trunc"}).out == id + "\n");
}

TEST_CASE("image import reads stdin, compressed input and --change", "[root]") {
  Cli cli;
  const auto tar = TarBuilder(TarBuilder::Compression::gzip).file("bin/x", "y", 0755).finish();
  const auto imported = cli(
      {"image", "import", "-c", "CMD [\"/bin/x\"]", "--change", "ENV A=b", "-", "piped:v2"}, tar);
  REQUIRE(imported.exit_code == 0);
  CHECK(cli({"image", "ls"}).out.find("piped") != std::string::npos);
  const auto record =
      fs::path(cli.root.path()) / "images" / (trimmed(imported.out).substr(7) + ".json");
  std::ifstream in(record);
  const auto j = nlohmann::json::parse(in);
  CHECK(j.at("Config").at("Cmd") == nlohmann::json({"/bin/x"}));
  CHECK(j.at("Config").at("Env") == nlohmann::json({"A=b"}));
}

TEST_CASE("image tag and image rm", "[root]") {
  Cli cli;
  const auto tar = TarBuilder().file("f", "1").finish();
  // Docker's top-level aliases: import and history.
  REQUIRE(cli({"import", "-", "one"}, tar).exit_code == 0);
  const auto history = cli({"history", "one"});
  CHECK(history.exit_code == 0);
  CHECK_THAT(history.out, Catch::StartsWith("IMAGE ") && Catch::Contains("CREATED BY"));
  CHECK(history.out == cli({"image", "history", "one"}).out);
  REQUIRE(cli({"image", "tag", "one", "two:x"}).exit_code == 0);
  CHECK(cli({"image", "ls"}).out.find("two") != std::string::npos);
  auto rm = cli({"image", "rm", "two:x"});
  CHECK(rm.exit_code == 0);
  CHECK(rm.out == "Untagged: two:x\n");
  rm = cli({"rmi", "one", "missing"});
  CHECK(rm.exit_code == 125);
  CHECK_THAT(rm.out, Catch::StartsWith("Untagged: one:latest\nDeleted: sha256:"));
  CHECK(rm.err == "gctool: no such image: missing\n");
  CHECK(cli({"image", "ls", "-q"}).out.empty());
  CHECK(fs::is_empty(cli.root.path() / "layers"));
}

TEST_CASE("hostile or broken archives are refused and leave the store as it was", "[root]") {
  Cli cli;
  TempDir outside{"gct-outside"};
  REQUIRE(cli({"image", "import", "-", "keep"}, TarBuilder().file("f", "1").finish()).exit_code ==
          0);
  // The listing without its CREATED column, which moves on with the clock.
  const std::vector<std::string> list = {"image", "ls", "--no-trunc", "--format",
                                         "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}"};
  const auto before = cli(list).out;
  REQUIRE_THAT(before, Catch::StartsWith("keep latest sha256:"));
  std::string truncated = TarBuilder().file("big", std::string(50000, 'x')).finish();
  truncated.resize(10000);
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"dotdot", TarBuilder().file("../../../../" + outside.str() + "/evil", "x").finish()},
      {"symlink", TarBuilder().symlink("s", outside.str()).file("s/evil", "x").finish()},
      {"hardlink", TarBuilder().hardlink("passwd", "/etc/passwd").finish()},
      {"truncated", truncated},
      {"random", std::string(3000, '\x17')},
  };
  for (const auto& [what, archive] : hostile) {
    INFO(what);
    const auto r = cli({"image", "import", "-", "evil"}, archive);
    CHECK(r.exit_code == 125);
    CHECK_THAT(r.err, Catch::StartsWith("gctool: "));
    CHECK(cli(list).out == before);
    CHECK(gctool::test::store_temporaries(cli.root.path()).empty());
    CHECK(fs::is_empty(outside.path()));
  }
}
