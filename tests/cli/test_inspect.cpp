// `inspect` and `ps` as Docker users script them: --format templates, images and networks by
// name, --type.
#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

TEST_CASE("inspect --format prints each object through the template", "[root]") {
  TestRoot root;
  const auto name = unique_name("fmt");
  REQUIRE(root.run({"run", "--name", name, "busybox", "sh", "-c", "exit 4"}).exit_code == 4);
  const auto out = root.run(
      {"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{json .Config.Cmd}}", name});
  CHECK(out.exit_code == 0);
  CHECK(out.out == "exited 4 [\"sh\",\"-c\",\"exit 4\"]\n");
  const auto two = root.run({"inspect", "--format", "{{.Name}}", name, name});
  CHECK(two.out == "/" + name + "\n/" + name + "\n");
  const auto bad = root.run({"inspect", "-f", "{{.State", name});
  CHECK(bad.exit_code == 125);
  CHECK(bad.err == "gctool: template: unclosed action in \"{{.State\"\n");
  CHECK(bad.out.empty());
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("inspect finds images when no container has the name", "[root]") {
  TestRoot root;
  CHECK(root.run({"inspect", "-f", "{{.Id}}", "busybox"}).out == root.image_id() + "\n");
  const auto image = root.run({"image", "inspect", "busybox"});
  REQUIRE(image.exit_code == 0);
  const auto json = nlohmann::json::parse(image.out);
  CHECK(json[0]["RepoTags"][0] == "busybox:latest");
  CHECK(json[0]["RootFS"]["Type"] == "layers");
  CHECK(json[0]["RootFS"]["Layers"].size() == 1);
  const auto missing = root.run({"inspect", "--type", "container", "busybox"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out == "[]\n");
  CHECK(missing.err.find("busybox") != std::string::npos);
  CHECK(root.run({"inspect", "nosuchthing"}).err == "gctool: no such object: nosuchthing\n");
  CHECK(root.run({"inspect", "--type", "volume", "busybox"}).exit_code == 125);
}

TEST_CASE("ps --format takes a Go template over its json fields", "[root]") {
  TestRoot root;
  const auto name = unique_name("psfmt");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "busybox", "true"}).exit_code == 0);
  CHECK(root.run({"ps", "-a", "--format", "{{.Names}}:{{.State}}"}).out == name + ":exited\n");
  const auto bad = root.run({"ps", "-a", "--format", "{{.Names"});
  CHECK(bad.exit_code == 125);
  CHECK(bad.out.empty());
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}
