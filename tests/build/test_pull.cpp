// `gctool build` with base images from a registry (Debian's docker-registry on loopback): FROM
// and COPY --from of an image the store lacks pull it, --pull pulls again as docker build does,
// and the base's ONBUILD triggers run in the build that uses it.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "container_support.hpp"
#include "image_support.hpp"
#include "registry_support.hpp"

using namespace gctool::test;
namespace fs = std::filesystem;

namespace {

std::size_t image_count(const TestRoot& root) {
  const auto ls = root.run({"image", "ls", "-q"});
  return static_cast<std::size_t>(std::count(ls.out.begin(), ls.out.end(), '\n'));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Builds dockerfile in the data root seed as ref and pushes it to the registry.
void build_and_push(const TempDir& seed, const std::string& ref, const std::string& dockerfile,
                    const std::map<std::string, std::string>& files = {}) {
  TempDir ctx("gct-build-ctx");
  write_bytes(ctx.path() / "Dockerfile", dockerfile);
  for (const auto& [name, content] : files) {
    write_bytes(ctx.path() / name, content);
  }
  const auto built = gctool::test::gctool(
      {"--root", seed.str(), "build", "--network", "none", "-q", "-t", ref, ctx.str()});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  const auto pushed = gctool::test::gctool({"--root", seed.str(), "push", ref});
  INFO(pushed.err);
  REQUIRE(pushed.exit_code == 0);
}

}  // namespace

TEST_CASE("build pulls a missing FROM image, runs its ONBUILD triggers, and --pull pulls again",
          "[root][build][registry]") {
  // The registry starts in the network namespace TestRoot gives the test, where gctool runs.
  TestRoot root;
  TestRegistry reg;
  TempDir seed;
  import_busybox(seed.path());
  const std::string base = reg.host() + "/base/onbuild:1";
  build_and_push(seed, base,
                 "FROM busybox\n"
                 "RUN echo base > /base.txt\n"
                 "ONBUILD COPY marker.txt /marker.txt\n"
                 "ONBUILD RUN echo triggered > /onbuild.txt\n");
  const std::string versioned = reg.host() + "/base/version:1";
  build_and_push(seed, versioned, "FROM busybox\nRUN echo 1 > /version\n");

  TempDir ctx("gct-build-ctx");
  write_bytes(ctx.path() / "marker.txt", "marker\n");
  write_bytes(ctx.path() / "Dockerfile",
              "FROM " + base + "\nRUN cat /base.txt /marker.txt /onbuild.txt > /all.txt\n");
  const auto built =
      root.run({"build", "--network", "none", "--progress", "plain", "-t", "app", ctx.str()});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  CHECK(contains(built.err, "[internal] pull " + base));
  CHECK(contains(built.err, ": Pull complete"));
  CHECK(contains(built.err, "ONBUILD COPY marker.txt /marker.txt"));
  CHECK(contains(built.err, "ONBUILD RUN echo triggered > /onbuild.txt"));
  const auto run = root.run({"run", "--rm", "--network", "none", "app", "cat", "/all.txt"});
  CHECK(run.out == "base\nmarker\ntriggered\n");
  // The base is in the store under its name; the triggers are not inherited.
  CHECK(root.run({"image", "inspect", base}).exit_code == 0);
  const auto app = nlohmann::json::parse(root.run({"image", "inspect", "app"}).out).at(0);
  const auto onbuild = app.at("Config").value("OnBuild", nlohmann::json());
  CHECK((onbuild.is_null() || onbuild.empty()));

  // Built again: the base is in the store, nothing is pulled, every step is cached.
  const auto again =
      root.run({"build", "--network", "none", "--progress", "plain", "-t", "app", ctx.str()});
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(!contains(again.err, "[internal] pull"));
  // The two triggers and the RUN: "#N [stage-0 i/4] TITLE" then "#N CACHED".
  const auto cached = [&](const std::string& title) {
    const auto at = again.err.find("] " + title + "\n");
    if (at == std::string::npos) {
      return false;
    }
    const auto line = again.err.rfind('\n', at) + 1;
    const std::string step = again.err.substr(line, again.err.find(' ', line) - line);
    return contains(again.err, step + " CACHED\n");
  };
  CHECK(cached("ONBUILD COPY marker.txt /marker.txt"));
  CHECK(cached("ONBUILD RUN echo triggered > /onbuild.txt"));
  CHECK(cached("RUN cat /base.txt /marker.txt /onbuild.txt > /all.txt"));

  // A new image under the same tag: used only with --pull, as docker build does.
  TempDir vctx("gct-build-ctx");
  write_bytes(vctx.path() / "Dockerfile",
              "FROM " + versioned + "\nCOPY --from=" + versioned + " /version /copied\n");
  const auto v1 = root.run({"build", "--network", "none", "-q", "-t", "v", vctx.str()});
  INFO(v1.err);
  REQUIRE(v1.exit_code == 0);
  CHECK(root.run({"run", "--rm", "--network", "none", "v", "cat", "/version", "/copied"}).out ==
        "1\n1\n");
  build_and_push(seed, versioned, "FROM busybox\nRUN echo 2 > /version\n");
  const auto stale = root.run({"build", "--network", "none", "-q", "-t", "v", vctx.str()});
  REQUIRE(stale.exit_code == 0);
  CHECK(root.run({"run", "--rm", "--network", "none", "v", "cat", "/version", "/copied"}).out ==
        "1\n1\n");
  const auto fresh = root.run(
      {"build", "--network", "none", "--progress", "plain", "--pull", "-t", "v", vctx.str()});
  INFO(fresh.err);
  REQUIRE(fresh.exit_code == 0);
  CHECK(contains(fresh.err, "[internal] pull " + versioned));
  CHECK(root.run({"run", "--rm", "--network", "none", "v", "cat", "/version", "/copied"}).out ==
        "2\n2\n");

  // An image the registry lacks: one line with the Dockerfile's line, exit 1, nothing stored.
  const std::size_t images = image_count(root);
  write_bytes(ctx.path() / "Dockerfile",
              "FROM busybox\nRUN true\nFROM " + reg.host() + "/no/such:1\n");
  const auto missing = root.run({"build", "--network", "none", "-q", "-t", "bad", ctx.str()});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.empty());
  // (With -q the progress is shown only on failure, before the error.)
  const std::string last = missing.err.substr(missing.err.rfind("gctool: "));
  CHECK_THAT(last, Catch::StartsWith("gctool: Dockerfile:3: FROM " + reg.host() + "/no/such:1: ") &&
                       Catch::Contains("manifest unknown"));
  CHECK(std::count(last.begin(), last.end(), '\n') == 1);
  CHECK(image_count(root) == images);
  CHECK(gctool::test::store_temporaries(root.root()).empty());
  CHECK(root.leaks().empty());
  CHECK(gctool::test::store_temporaries(seed.path()).empty());
}
