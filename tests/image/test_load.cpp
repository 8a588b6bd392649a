// `image load` of two-layer docker-archive and OCI layouts made by the test itself.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "gctool/image/store.hpp"
#include "image_support.hpp"

namespace fs = std::filesystem;
using gctool::test::TarBuilder;
using gctool::test::TempDir;
using gctool::test::TestImage;
using nlohmann::json;

namespace {

// Two layers: the second adds a file, deletes one of the first (whiteout) and makes a directory
// opaque.
TestImage two_layers() {
  TestImage image;
  image.layers = {TarBuilder()
                      .dir("bin")
                      .file("bin/a", "A", 0755)
                      .dir("etc")
                      .file("etc/keep", "k")
                      .file("etc/gone", "g")
                      .dir("var")
                      .file("var/old", "o")
                      .finish(),
                  TarBuilder()
                      .dir("bin")
                      .file("bin/b", "B", 0755)
                      .dir("etc")
                      .file("etc/.wh.gone", "")
                      .dir("var")
                      .file("var/.wh..wh..opq", "")
                      .file("var/new", "n")
                      .finish()};
  image.config = {{"Cmd", {"/bin/a"}},           {"Entrypoint", {"/bin/b"}},
                  {"Env", {"PATH=/bin", "X=1"}}, {"WorkingDir", "/w"},
                  {"User", "1000:1000"},         {"StopSignal", "SIGINT"},
                  {"Labels", {{"l", "v"}}},      {"ExposedPorts", {{"80/tcp", json::object()}}}};
  return image;
}

void check_two_layer_image(const fs::path& root, const std::string& ref) {
  const gctool::image::ImageStore store(root);
  const auto image = store.resolve(ref);
  REQUIRE(image.layer_dirs.size() == 2);
  const auto& bottom = image.layer_dirs[0];
  const auto& top = image.layer_dirs[1];
  CHECK(fs::exists(bottom / "bin/a"));
  CHECK(fs::exists(bottom / "etc/gone"));
  CHECK(fs::exists(top / "bin/b"));
  CHECK(fs::exists(top / "var/new"));
  struct stat st {};
  REQUIRE(::lstat((top / "etc/gone").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == ::makedev(0, 0));
  char opaque = 0;
  CHECK(::getxattr((top / "var").c_str(), "trusted.overlay.opaque", &opaque, 1) == 1);
  CHECK(opaque == 'y');
  CHECK(image.config.cmd == std::vector<std::string>{"/bin/a"});
  CHECK(image.config.entrypoint == std::vector<std::string>{"/bin/b"});
  CHECK(image.config.env == std::vector<std::string>{"PATH=/bin", "X=1"});
  CHECK(image.config.working_dir == "/w");
  CHECK(image.config.user == "1000:1000");
  CHECK(image.config.stop_signal == "SIGINT");
  CHECK(image.config.labels.at("l") == "v");
  CHECK(image.config.exposed_ports == std::vector<std::string>{"80/tcp"});
  CHECK(gctool::test::store_temporaries(root).empty());
}

}  // namespace

TEST_CASE("a two-layer docker-archive loads from a file and from stdin", "[root]") {
  TempDir root;
  TempDir work;
  const auto archive = two_layers().docker_archive("two/layers:v1");
  gctool::test::write_bytes(work.path() / "image.tar", archive);
  auto r = gctool::test::gctool(
      {"--root", root.str(), "image", "load", "-i", (work.path() / "image.tar").string()});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "Loaded image: two/layers:v1\n");
  check_two_layer_image(root.path(), "two/layers:v1");
  // The same archive again, through stdin: the same id, the layers are not duplicated.
  r = gctool::test::gctool({"--root", root.str(), "load"}, archive);
  REQUIRE(r.exit_code == 0);
  CHECK(gctool::image::ImageStore(root.path()).list().size() == 1);
}

TEST_CASE("a two-layer gzip OCI layout loads as a tar and as a directory", "[root]") {
  const auto files = two_layers().oci_layout("localhost/bb:latest");
  SECTION("tar on stdin") {
    TempDir root;
    const auto r =
        gctool::test::gctool({"--root", root.str(), "image", "load"}, gctool::test::tar_of(files));
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "Loaded image: localhost/bb:latest\n");
    check_two_layer_image(root.path(), "localhost/bb");
  }
  SECTION("directory") {
    TempDir root;
    TempDir dir;
    fs::create_directories(dir.path() / "blobs/sha256");
    for (const auto& [path, data] : files) {
      gctool::test::write_bytes(dir.path() / path, data);
    }
    const auto r = gctool::test::gctool({"--root", root.str(), "image", "load", "-i", dir.str()});
    REQUIRE(r.exit_code == 0);
    check_two_layer_image(root.path(), "localhost/bb:latest");
  }
}

TEST_CASE("a blob that does not match its digest fails the load and leaves nothing", "[root]") {
  TempDir root;
  auto files = two_layers().oci_layout("localhost/bad:1");
  for (auto& [path, data] : files) {
    if (path.starts_with("blobs/") && data.size() > 2 && data[0] == '\x1f') {
      // A gzip layer: swap it for another valid gzip of different content.
      data = gctool::test::gzip(TarBuilder().file("evil", "x").finish());
      break;
    }
  }
  const auto r =
      gctool::test::gctool({"--root", root.str(), "image", "load"}, gctool::test::tar_of(files));
  CHECK(r.exit_code == 125);
  CHECK_THAT(r.err, Catch::Contains("digest mismatch"));
  CHECK(gctool::image::ImageStore(root.path()).list().empty());
  CHECK(gctool::test::store_temporaries(root.path()).empty());
  CHECK(fs::is_empty(root.path() / "layers"));
}

TEST_CASE("a docker-archive whose layer does not match its diff_id is refused", "[root]") {
  TempDir root;
  auto image = two_layers();
  const std::string config = image.config_json();
  image.layers[1] = TarBuilder().file("other", "x").finish();
  const json manifest = json::array(
      {{{"Config", "c.json"}, {"RepoTags", {"x:y"}}, {"Layers", {"l1.tar", "l2.tar"}}}});
  const auto archive = TarBuilder()
                           .file("l1.tar", image.layers[0])
                           .file("l2.tar", image.layers[1])
                           .file("c.json", config)
                           .file("manifest.json", manifest.dump())
                           .finish();
  const auto r = gctool::test::gctool({"--root", root.str(), "image", "load"}, archive);
  CHECK(r.exit_code == 125);
  CHECK_THAT(r.err, Catch::Contains("does not match its diff_id"));
  CHECK(gctool::image::ImageStore(root.path()).list().empty());
  CHECK(gctool::test::store_temporaries(root.path()).empty());
}

TEST_CASE("an archive whose RepoTags break the reference grammar is refused whole", "[root]") {
  // A path out of the store, a newline that would split a listing line, upper case, a control
  // character in the tag: each refused with one line and exit 125, and nothing is stored.
  for (const std::string tag : {"../../../etc/evil:1", "evil\nline:1", "x/../../y:1", "Evil:1",
                                "evil:t\x01g", "a..b:1", "/abs:1", "-x:1"}) {
    INFO(tag);
    TempDir root;
    const auto archive = two_layers().docker_archive(tag);
    const auto r = gctool::test::gctool({"--root", root.str(), "image", "load"}, archive);
    CHECK(r.exit_code == 125);
    CHECK(r.out.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_THAT(r.err, Catch::Contains("invalid reference format"));
    CHECK(gctool::image::ImageStore(root.path()).list().empty());
    CHECK(gctool::test::store_temporaries(root.path()).empty());
    CHECK((!fs::exists(root.path() / "layers") || fs::is_empty(root.path() / "layers")));
  }
}

TEST_CASE("image save writes a docker-archive that image load reads back", "[root]") {
  TempDir root;
  TempDir work;
  auto r = gctool::test::gctool({"--root", root.str(), "image", "load"},
                                two_layers().docker_archive("saved:v1"));
  REQUIRE(r.exit_code == 0);
  const auto saved = work.path() / "saved.tar";
  r = gctool::test::gctool(
      {"--root", root.str(), "image", "save", "-o", saved.string(), "saved:v1"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  REQUIRE(fs::exists(saved));
  CHECK_FALSE(fs::exists(work.path() / "saved.tar.tmp"));
  r = gctool::test::gctool({"--root", root.str(), "image", "rm", "saved:v1"});
  REQUIRE(r.exit_code == 0);
  CHECK(fs::is_empty(root.path() / "layers"));
  r = gctool::test::gctool({"--root", root.str(), "image", "load", "-i", saved.string()});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "Loaded image: saved:v1\n");
  check_two_layer_image(root.path(), "saved:v1");
}

TEST_CASE("image save of an unknown image fails without leaving a file", "[root]") {
  TempDir root;
  TempDir work;
  const auto out = work.path() / "x.tar";
  const auto r =
      gctool::test::gctool({"--root", root.str(), "image", "save", "-o", out.string(), "nope"});
  CHECK(r.exit_code == 125);
  CHECK(r.err == "gctool: no such image: nope\n");
  CHECK(fs::is_empty(work.path()));
}

TEST_CASE("image load shows its progress on a terminal only", "[root]") {
  TempDir root;
  TempDir work;
  const auto archive = work.path() / "image.tar";
  gctool::test::write_bytes(archive, two_layers().docker_archive("progress:v1"));
  const auto terminal = gctool::test::run_on_terminal(
      {GCTOOL_BINARY, "--root", root.str(), "image", "load", "-i", archive.string()});
  CHECK(terminal.exit_code == 0);
  const std::string& shown = terminal.out;
  CHECK_THAT(shown, Catch::Contains("Reading archive [") && Catch::Contains("Loading layer 1/2") &&
                        Catch::Contains("Loading layer 2/2") &&
                        Catch::Contains("Loaded image: progress:v1"));
  // The bar is erased before the result is printed.
  CHECK_THAT(shown, Catch::Contains("\r\033[KLoaded image: progress:v1"));
  const auto piped =
      gctool::test::gctool({"--root", root.str(), "image", "load", "-i", archive.string()});
  CHECK(piped.exit_code == 0);
  CHECK(piped.out == "Loaded image: progress:v1\n");
  CHECK(piped.err.empty());
}
