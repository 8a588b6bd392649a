// push to Debian's docker-registry on loopback; skopeo inspects and podman pulls what was
// pushed, gctool pulls and runs it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "image_support.hpp"
#include "registry_support.hpp"

using gctool::test::run_program;
using gctool::test::TempDir;

static gctool::test::RunResult run_gctool(const std::vector<std::string>& args,
                                          const std::string& input = "") {
  return gctool::test::gctool(args, input);
}
using gctool::test::TestRegistry;

TEST_CASE("push uploads an image that skopeo inspects, podman pulls and gctool runs",
          "[root][registry]") {
  TestRegistry reg;
  TempDir root;
  TempDir other;
  const std::string ref = reg.host() + "/pushed/bb:1";
  const std::string id = gctool::test::import_busybox(root.path(), ref);

  const auto r = run_gctool({"--root", root.str(), "push", ref});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(": Pushed"));
  const auto at = r.out.find("1: digest: ");
  REQUIRE(at != std::string::npos);
  const std::string digest = r.out.substr(at + 11, 71);

  const auto inspect = run_program({"skopeo", "inspect", "--tls-verify=false", "docker://" + ref});
  INFO(inspect.err);
  REQUIRE(inspect.exit_code == 0);
  const auto info = nlohmann::json::parse(inspect.out);
  CHECK(info["Digest"] == digest);
  CHECK(info["Layers"].size() == 1);

  // A second push finds every blob there already.
  const auto again = run_gctool({"--root", root.str(), "push", ref});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("Layer already exists"));

  // gctool pulls it back into another root with the same id and runs it.
  const auto pulled = run_gctool({"--root", other.str(), "pull", ref});
  INFO(pulled.err);
  REQUIRE(pulled.exit_code == 0);
  const auto run = run_gctool(
      {"--root", other.str(), "run", "--rm", "--network", "none", ref, "echo", "round trip"});
  CHECK(run.out == "round trip\n");
  CHECK(run_gctool({"--root", other.str(), "image", "inspect", "-f", "{{.Id}}", ref}).out ==
        id + "\n");

  // podman, with storage of its own.
  TempDir podman_root;
  // Podman refuses a run root path longer than 50 characters, as the build tree's can be.
  const TempDir runroot("gct-pd", "/run");
  const std::vector<std::string> podman{"podman",
                                        "--root",
                                        (podman_root.path() / "root").string(),
                                        "--runroot",
                                        runroot.str(),
                                        "--storage-driver",
                                        "vfs",
                                        "--cgroup-manager",
                                        "cgroupfs",
                                        "--events-backend",
                                        "file"};
  auto argv = podman;
  argv.insert(argv.end(), {"pull", "-q", "--tls-verify=false", ref});
  const auto ppull = run_program(argv);
  INFO(ppull.out + ppull.err);
  REQUIRE(ppull.exit_code == 0);
  // podman run is not checked: crun cannot raise RLIMIT_NOFILE on this CI host (EPERM), for
  // any image; gctool runs the pulled image above.
  argv = podman;
  argv.insert(argv.end(), {"rmi", "-a", "-f"});
  run_program(argv);

  const auto missing = run_gctool({"--root", root.str(), "push", reg.host() + "/not/here:1"});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("no such image"));
}
