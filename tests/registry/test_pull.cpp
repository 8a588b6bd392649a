// pull, run with auto-pull, login/logout against Debian's docker-registry on loopback, seeded
// with skopeo from archives and layouts the tests write.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "gctool/image/platform.hpp"
#include "gctool/image/sha256.hpp"
#include "gctool/registry/auth.hpp"
#include "image_support.hpp"
#include "registry_support.hpp"

namespace fs = std::filesystem;
using gctool::image::sha256_digest;
using gctool::test::RunResult;
using gctool::test::TempDir;

static gctool::test::RunResult run_gctool(const std::vector<std::string>& args,
                                          const std::string& input = "") {
  return gctool::test::gctool(args, input);
}
using gctool::test::TestImage;
using gctool::test::TestRegistry;
using gctool::test::write_bytes;
using nlohmann::json;

namespace {

std::string layer_with(const std::string& path, const std::string& content) {
  gctool::test::TarBuilder tar;
  return tar.file(path, content).finish();
}

// Writes image as a docker-archive and copies it to the registry as dest (Docker schema 2, or
// OCI with oci = true).
void put_image(const TestRegistry& reg, const TempDir& tmp, const TestImage& image,
               const std::string& dest, bool oci = false) {
  const auto archive = tmp.path() / (gctool::test::unique_name("img") + ".tar");
  write_bytes(archive, image.docker_archive("x/y:z"));
  std::vector<std::string> extra;
  if (oci) {
    extra = {"--format", "oci"};
  }
  const auto r = reg.put("docker-archive:" + archive.string(), dest, extra);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// busybox imported into seed as "bb", saved and copied to the registry as dest (skopeo's extra
// flags may convert it); returns the result of skopeo.
RunResult put_busybox(const TestRegistry& reg, const TempDir& tmp, const TempDir& seed,
                      const std::string& dest, const std::vector<std::string>& extra = {}) {
  gctool::test::import_busybox(seed.path(), "bb");
  const auto archive = tmp.path() / "bb.tar";
  REQUIRE(
      run_gctool({"--root", seed.str(), "image", "save", "-o", archive.string(), "bb"}).exit_code ==
      0);
  return reg.put("docker-archive:" + archive.string(), dest, extra);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

std::string image_id(const TempDir& root, const std::string& ref) {
  return trim(run_gctool({"--root", root.str(), "image", "inspect", "-f", "{{.Id}}", ref}).out);
}

// The store holds no image, no tag and no temporary left by a failed pull.
void check_store_empty(const TempDir& root) {
  const auto ls = run_gctool({"--root", root.str(), "image", "ls", "-q"});
  CHECK(ls.exit_code == 0);
  CHECK(ls.out.empty());
  CHECK(gctool::test::store_temporaries(root.path()).empty());
  CHECK(gctool::test::directory_entries(root.path() / "layers").empty());
}

// Bytes that do not compress (xorshift).
std::string noise(std::size_t size) {
  std::string out(size, '\0');
  std::uint64_t x = 88172645463325252ull;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("pull fetches Docker schema 2 and OCI images and names them as Docker does",
          "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir root;
  TestImage image;
  image.layers = {layer_with("a.txt", "bottom\n"), layer_with("b.txt", "top\n")};
  image.config = {{"Cmd", {"/bin/sh"}}};
  put_image(reg, tmp, image, "team/app:v1");
  put_image(reg, tmp, image, "team/app-oci:v2", true);

  const auto r = run_gctool({"--root", root.str(), "pull", reg.host() + "/team/app:v1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("v1: Pulling from team/app\n"));
  CHECK_THAT(r.out, Catch::Contains("Pull complete"));
  CHECK_THAT(r.out,
             Catch::Contains("Status: Downloaded newer image for " + reg.host() + "/team/app:v1"));
  CHECK_THAT(r.out, Catch::EndsWith("\n" + reg.host() + "/team/app:v1\n"));
  // The image is the one pushed: same configuration, so the same id.
  CHECK(image_id(root, reg.host() + "/team/app:v1") == sha256_digest(image.config_json()));
  const auto ls = run_gctool({"--root", root.str(), "image", "ls"});
  CHECK_THAT(ls.out, Catch::Contains(reg.host() + "/team/app"));

  // The same layers behind an OCI manifest: nothing downloaded again.
  const auto oci =
      run_gctool({"--root", root.str(), "image", "pull", reg.host() + "/team/app-oci:v2"});
  INFO(oci.err);
  REQUIRE(oci.exit_code == 0);
  CHECK_THAT(oci.out, Catch::Contains("Already exists"));
  CHECK_THAT(oci.out, !Catch::Contains("Pull complete"));

  // Pulled again: up to date; -q prints the reference alone.
  const auto again = run_gctool({"--root", root.str(), "pull", reg.host() + "/team/app:v1"});
  CHECK_THAT(again.out, Catch::Contains("Status: Image is up to date"));
  const auto quiet = run_gctool({"--root", root.str(), "pull", "-q", reg.host() + "/team/app:v1"});
  CHECK(quiet.out == reg.host() + "/team/app:v1\n");

  // By digest: the manifest is verified against it.
  const std::string digest = r.out.substr(r.out.find("Digest: ") + 8, 71);
  const auto pinned =
      run_gctool({"--root", root.str(), "pull", reg.host() + "/team/app@" + digest});
  INFO(pinned.err);
  CHECK(pinned.exit_code == 0);
  CHECK_THAT(pinned.out, Catch::EndsWith(reg.host() + "/team/app@" + digest + "\n"));
  CHECK(gctool::test::store_temporaries(root.path()).empty());
}

TEST_CASE("a layer already in the store says Already exists; the new one is downloaded",
          "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir root;
  TestImage base;
  base.layers = {layer_with("base.txt", "shared\n")};
  TestImage derived;
  derived.layers = {base.layers[0], layer_with("extra.txt", "more\n")};
  put_image(reg, tmp, base, "base:1");
  put_image(reg, tmp, derived, "derived:1");
  REQUIRE(run_gctool({"--root", root.str(), "pull", reg.host() + "/base:1"}).exit_code == 0);
  const auto r = run_gctool({"--root", root.str(), "pull", reg.host() + "/derived:1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(": Already exists"));
  CHECK_THAT(r.out, Catch::Contains(": Pull complete"));
  CHECK(image_id(root, reg.host() + "/derived:1") == sha256_digest(derived.config_json()));
}

TEST_CASE("an index with two platforms: this machine's is chosen, --platform picks another",
          "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir root;
  const std::string host_arch = gctool::image::host_architecture();
  const std::string other_arch = host_arch == "arm64" ? "amd64" : "arm64";
  // An OCI layout: index.json -> nested index "multi" -> one manifest per platform.
  std::map<std::string, std::string> files;
  const auto blob = [&](const std::string& data, const std::string& media_type) {
    files["blobs/sha256/" + gctool::image::sha256_hex(data)] = data;
    return json{{"mediaType", media_type}, {"digest", sha256_digest(data)}, {"size", data.size()}};
  };
  std::map<std::string, std::string> configs;
  json manifests = json::array();
  for (const auto& arch : {host_arch, other_arch}) {
    const std::string layer = layer_with("arch", arch + "\n");
    const std::string config =
        json{{"architecture", arch},
             {"os", "linux"},
             {"config", json::object()},
             {"rootfs", {{"type", "layers"}, {"diff_ids", {sha256_digest(layer)}}}}}
            .dump();
    configs[arch] = config;
    const std::string mt = "application/vnd.oci.image.manifest.v1+json";
    json m = blob(
        json{{"schemaVersion", 2},
             {"mediaType", mt},
             {"config", blob(config, "application/vnd.oci.image.config.v1+json")},
             {"layers",
              {blob(gctool::test::gzip(layer), "application/vnd.oci.image.layer.v1.tar+gzip")}}}
            .dump(),
        mt);
    m["platform"] = {{"os", "linux"}, {"architecture", arch}};
    manifests.push_back(m);
  }
  const std::string it = "application/vnd.oci.image.index.v1+json";
  json nested =
      blob(json{{"schemaVersion", 2}, {"mediaType", it}, {"manifests", manifests}}.dump(), it);
  nested["annotations"] = {{"org.opencontainers.image.ref.name", "multi"}};
  files["index.json"] = json{{"schemaVersion", 2}, {"manifests", {nested}}}.dump();
  files["oci-layout"] = R"({"imageLayoutVersion":"1.0.0"})";
  const auto layout = tmp.path() / "layout";
  fs::create_directories(layout / "blobs" / "sha256");
  for (const auto& [path, data] : files) {
    write_bytes(layout / path, data);
  }
  const auto put = reg.put("oci:" + layout.string() + ":multi", "multi:1", {"--all"});
  INFO(put.err);
  REQUIRE(put.exit_code == 0);

  const auto r = run_gctool({"--root", root.str(), "pull", reg.host() + "/multi:1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(image_id(root, reg.host() + "/multi:1") == sha256_digest(configs[host_arch]));
  const auto other = run_gctool(
      {"--root", root.str(), "pull", "--platform", "linux/" + other_arch, reg.host() + "/multi:1"});
  INFO(other.err);
  REQUIRE(other.exit_code == 0);
  CHECK(image_id(root, reg.host() + "/multi:1") == sha256_digest(configs[other_arch]));
  const auto none = run_gctool(
      {"--root", root.str(), "pull", "--platform", "linux/s390x", reg.host() + "/multi:1"});
  CHECK(none.exit_code == 1);
  CHECK_THAT(none.err, Catch::Contains("no image for platform linux/s390x"));
  CHECK(count_lines(none.err) == 1);
}

TEST_CASE("run pulls a missing image, with the pull's progress on stderr", "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir seed;
  TempDir root;
  REQUIRE(put_busybox(reg, tmp, seed, "bb:1").exit_code == 0);
  const std::string ref = reg.host() + "/bb:1";

  const auto never = run_gctool({"--root", root.str(), "run", "--rm", "--pull", "never",
                                 "--network", "none", ref, "echo", "hi"});
  CHECK(never.exit_code == 125);
  CHECK(count_lines(never.err) == 1);

  const auto r = run_gctool(
      {"--root", root.str(), "run", "--rm", "--network", "none", ref, "echo", "pulled and ran"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "pulled and ran\n");
  CHECK_THAT(r.err, Catch::Contains("Unable to find image '" + ref + "' locally"));
  CHECK_THAT(r.err, Catch::Contains("Pull complete"));
  CHECK_THAT(r.err, Catch::Contains("Status: Downloaded newer image for " + ref));

  // Present now: no pull; --pull always asks the registry again.
  const auto again =
      run_gctool({"--root", root.str(), "run", "--rm", "--network", "none", ref, "true"});
  CHECK(again.exit_code == 0);
  CHECK(again.err.empty());
  const auto always = run_gctool(
      {"--root", root.str(), "run", "--rm", "--pull", "always", "--network", "none", ref, "true"});
  CHECK(always.exit_code == 0);
  CHECK_THAT(always.err, Catch::Contains("Image is up to date"));

  const auto missing = run_gctool({"--root", root.str(), "run", "--rm", "--network", "none",
                                   reg.host() + "/nothing:1", "true"});
  CHECK(missing.exit_code == 125);
  CHECK_THAT(missing.err, Catch::Contains("manifest unknown"));
}

TEST_CASE("run -q and create -q pull a missing image without any output", "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir seed;
  TempDir root;
  REQUIRE(put_busybox(reg, tmp, seed, "bb:1").exit_code == 0);
  const std::string ref = reg.host() + "/bb:1";
  // As Docker: not even "Unable to find image"; the container's own output stays.
  const auto r = run_gctool(
      {"--root", root.str(), "run", "-q", "--rm", "--network", "none", ref, "echo", "quietly"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "quietly\n");
  CHECK(r.err.empty());
  const auto always = run_gctool({"--root", root.str(), "create", "--quiet", "--pull", "always",
                                  "--network", "none", ref, "true"});
  INFO(always.err);
  REQUIRE(always.exit_code == 0);
  CHECK(always.err.empty());
  CHECK(always.out.size() == 65);  // the id alone
  CHECK(run_gctool({"--root", root.str(), "rm", always.out.substr(0, 64)}).exit_code == 0);
  // Failures still say why.
  const auto missing = run_gctool({"--root", root.str(), "run", "-q", "--rm", "--network", "none",
                                   reg.host() + "/nothing:1", "true"});
  CHECK(missing.exit_code == 125);
  CHECK(count_lines(missing.err) == 1);
  CHECK_THAT(missing.err, Catch::Contains("manifest unknown"));
}

TEST_CASE("pull failures are one line, exit 1, and leave the store as it was", "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir root;
  TestImage image;
  image.layers = {layer_with("f", noise(200000))};
  put_image(reg, tmp, image, "app:1");

  const auto expect_failure = [&](const std::vector<std::string>& args, const std::string& why) {
    std::vector<std::string> argv{"--root", root.str(), "pull"};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = run_gctool(argv);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::StartsWith("gctool: ") && Catch::Contains(why));
    check_store_empty(root);
  };
  expect_failure({"Not/Valid"}, "invalid reference format");
  expect_failure({reg.host() + "/app@sha256:1234"}, "invalid reference format");
  expect_failure({reg.host() + "/nothing:1"}, "manifest unknown");
  expect_failure({reg.host() + "/app:nope"}, "manifest unknown");
  expect_failure({"--platform", "linux", reg.host() + "/app:1"}, "invalid platform");
  const auto unused_port = gctool::test::free_loopback_port();
  expect_failure({fmt::format("127.0.0.1:{}/app:1", unused_port)}, "cannot reach registry");

  // The registry serves a corrupted, then a truncated layer blob: digest mismatch.
  const std::string blob = sha256_digest(gctool::test::gzip(image.layers[0])).substr(7);
  fs::path data;
  for (const auto& e : fs::recursive_directory_iterator(reg.dir() / "data")) {
    if (e.path().filename() == "data" && e.path().parent_path().filename() == blob) {
      data = e.path();
    }
  }
  // skopeo may recompress; find the layer blob by the manifest instead when names differ.
  if (data.empty()) {
    for (const auto& e : fs::recursive_directory_iterator(reg.dir() / "data")) {
      if (e.path().filename() == "data" && fs::file_size(e.path()) > 100000 &&
          e.path().string().find("/blobs/") != std::string::npos) {
        const auto text = gctool::test::read_bytes(e.path());
        if (text.substr(0, 2) == "\x1f\x8b") {
          data = e.path();
        }
      }
    }
  }
  REQUIRE(!data.empty());
  const std::string original = gctool::test::read_bytes(data);
  std::string corrupted = original;
  corrupted[corrupted.size() / 2] ^= 0x55;
  write_bytes(data, corrupted);
  expect_failure({reg.host() + "/app:1"}, "app:1");
  write_bytes(data, original.substr(0, original.size() / 2));
  expect_failure({reg.host() + "/app:1"}, "app:1");
  write_bytes(data, original);
  CHECK(run_gctool({"--root", root.str(), "pull", reg.host() + "/app:1"}).exit_code == 0);
}

TEST_CASE("a pull killed midway leaves no layer; the next pull completes", "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir root;
  // 48 MB that do not compress: the download takes long enough to be killed in.
  TestImage image;
  image.layers = {layer_with("noise", noise(48 << 20)), layer_with("small", "s\n")};
  put_image(reg, tmp, image, "big:1");

  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(GCTOOL_BINARY, GCTOOL_BINARY, "--root", root.str().c_str(), "pull",
            (reg.host() + "/big:1").c_str(), nullptr);
    ::_exit(127);
  }
  // Killed once a layer is being extracted into the store.
  bool seen = false;
  for (int i = 0; i < 20000 && !seen; ++i) {
    seen = !gctool::test::store_temporaries(root.path()).empty();
    if (!seen) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(seen);
  CHECK(WIFSIGNALED(status));
  check_store_empty(root);
  const auto r = run_gctool({"--root", root.str(), "pull", reg.host() + "/big:1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(image_id(root, reg.host() + "/big:1") == sha256_digest(image.config_json()));
  CHECK(gctool::test::store_temporaries(root.path()).empty());
}

TEST_CASE("login checks and stores credentials; pull uses them; logout removes them",
          "[root][registry]") {
  TestRegistry reg(TestRegistry::Options{"tester", "s3cret", false});
  TempDir tmp;
  TempDir root;
  TestImage image;
  image.layers = {layer_with("secret.txt", "behind auth\n")};
  const auto archive = tmp.path() / "img.tar";
  write_bytes(archive, image.docker_archive("x/y:z"));
  const auto put =
      reg.put("docker-archive:" + archive.string(), "private:1", {"--dest-creds", "tester:s3cret"});
  INFO(put.err);
  REQUIRE(put.exit_code == 0);
  const std::string authfile = (tmp.path() / "auth.json").string();
  const std::string ref = reg.host() + "/private:1";

  const auto anonymous = run_gctool({"--root", root.str(), "pull", "--authfile", authfile, ref});
  CHECK(anonymous.exit_code == 1);
  CHECK_THAT(anonymous.err, Catch::Contains("authentication required"));
  check_store_empty(root);

  const auto wrong =
      run_gctool({"login", "--authfile", authfile, "-u", "tester", "-p", "wrong", reg.host()});
  CHECK(wrong.exit_code == 1);
  CHECK_THAT(wrong.err, Catch::Contains("incorrect username or password"));
  CHECK(count_lines(wrong.err) == 1);
  CHECK(!fs::exists(authfile));

  const auto ok =
      run_gctool({"login", "--authfile", authfile, "-u", "tester", "--password-stdin", reg.host()},
                 "s3cret\n");
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  CHECK(ok.out == "Login Succeeded\n");
  const json saved = json::parse(gctool::test::read_bytes(authfile));
  CHECK(saved["auths"][reg.host()]["auth"] == gctool::registry::base64_encode("tester:s3cret"));
  CHECK((fs::status(authfile).permissions() & fs::perms::others_read) == fs::perms::none);

  const auto pulled = run_gctool({"--root", root.str(), "pull", "--authfile", authfile, ref});
  INFO(pulled.err);
  CHECK(pulled.exit_code == 0);
  CHECK(image_id(root, ref) == sha256_digest(image.config_json()));

  const auto out = run_gctool({"logout", "--authfile", authfile, reg.host()});
  CHECK(out.exit_code == 0);
  CHECK(out.out == "Removing login credentials for " + reg.host() + "\n");
  CHECK(json::parse(gctool::test::read_bytes(authfile))["auths"].empty());
  const auto again = run_gctool({"logout", "--authfile", authfile, reg.host()});
  CHECK(again.out == "Not logged in to " + reg.host() + "\n");
}

TEST_CASE("a TLS registry: verified against the CA in gctool's config, or --tls-verify=false",
          "[root][registry]") {
  TestRegistry reg(TestRegistry::Options{"", "", true});
  TempDir tmp;
  TempDir root;
  TestImage image;
  image.layers = {layer_with("tls.txt", "over https\n")};
  const auto archive = tmp.path() / "img.tar";
  write_bytes(archive, image.docker_archive("x/y:z"));
  REQUIRE(reg.put("docker-archive:" + archive.string(), "tls:1").exit_code == 0);
  const std::string ref = reg.host() + "/tls:1";

  // The registry's CA in <config dir>/certs.d/<host:port>/ca.crt: verified HTTPS.
  const auto config_dir = tmp.path() / "etc";
  fs::create_directories(config_dir / "certs.d" / reg.host());
  write_bytes(config_dir / "config.json", "{}");
  fs::copy_file(reg.ca_file(), config_dir / "certs.d" / reg.host() / "ca.crt");
  const std::string env = "GCTOOL_CONFIG=" + (config_dir / "config.json").string();
  const auto verified =
      gctool::test::run_program({GCTOOL_BINARY, "--root", root.str(), "pull", ref}, "", {env});
  INFO(verified.err);
  CHECK(verified.exit_code == 0);

  // Another CA there: verification fails.
  TestRegistry other(TestRegistry::Options{"", "", true});
  fs::copy_file(other.ca_file(), config_dir / "certs.d" / reg.host() / "ca.crt",
                fs::copy_options::overwrite_existing);
  const auto refused = gctool::test::run_program(
      {GCTOOL_BINARY, "--root", root.str(), "pull", reg.host() + "/tls:1"}, "", {env});
  CHECK(refused.exit_code == 1);
  CHECK(count_lines(refused.err) == 1);

  const auto unverified = gctool::test::run_program(
      {GCTOOL_BINARY, "--root", root.str(), "pull", "--tls-verify=false", ref}, "", {env});
  INFO(unverified.err);
  CHECK(unverified.exit_code == 0);
}

TEST_CASE("pull --all-tags fetches every tag of a repository", "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir root;
  std::map<std::string, TestImage> images;
  for (const std::string tag : {"v1", "v2", "latest"}) {
    images[tag].layers = {layer_with("tag.txt", tag + "\n")};
    put_image(reg, tmp, images[tag], "many:" + tag);
  }
  put_image(reg, tmp, images["v1"], "other:v9");

  const auto r = run_gctool({"--root", root.str(), "pull", "--all-tags", reg.host() + "/many"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& [tag, image] : images) {
    CHECK_THAT(r.out, Catch::Contains(tag + ": Pulling from many"));
    CHECK(image_id(root, reg.host() + "/many:" + tag) == sha256_digest(image.config_json()));
  }
  const auto ls = run_gctool({"--root", root.str(), "image", "ls", reg.host() + "/many"});
  CHECK(count_lines(ls.out) == 4);  // the header and three tags
  CHECK(!image_id(root, reg.host() + "/other:v9").starts_with("sha256:"));

  // A tag or digest with --all-tags is bad input; a repository without tags fails; one line.
  TempDir empty;
  for (const auto& name : {reg.host() + "/many:v1", reg.host() + "/none"}) {
    const auto bad = run_gctool({"--root", empty.str(), "pull", "-a", name});
    INFO(name);
    CHECK(bad.exit_code == 1);
    CHECK(count_lines(bad.err) == 1);
    check_store_empty(empty);
  }
  CHECK_THAT(run_gctool({"--root", empty.str(), "pull", "-a", reg.host() + "/many:v1"}).err,
             Catch::Contains("tag can't be used with --all-tags/-a"));
}

TEST_CASE("zstd-compressed layers (skopeo's OCI zstd) are pulled, verified and run",
          "[root][registry]") {
  TestRegistry reg;
  TempDir tmp;
  TempDir seed;
  TempDir root;
  // busybox's layer recompressed with zstd, behind an OCI manifest.
  const auto put =
      put_busybox(reg, tmp, seed, "zbb:1", {"--format", "oci", "--dest-compress-format", "zstd"});
  INFO(put.err);
  REQUIRE(put.exit_code == 0);
  const auto raw = gctool::test::run_program(
      {"skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + reg.host() + "/zbb:1"});
  REQUIRE(raw.exit_code == 0);
  const auto manifest = json::parse(raw.out);
  REQUIRE(manifest["layers"].size() == 1);
  // The registry really holds zstd: the media type says so and the blob has zstd's magic.
  REQUIRE(manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd");

  const std::string ref = reg.host() + "/zbb:1";
  const auto r = run_gctool({"--root", root.str(), "pull", ref});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("Pull complete"));
  // The same layer as the gzip original (skopeo rewrites the configuration for OCI, so the id
  // differs): the same diff_id.
  const auto layers = [](const TempDir& store, const std::string& name) {
    return run_gctool(
               {"--root", store.str(), "image", "inspect", "-f", "{{json .RootFS.Layers}}", name})
        .out;
  };
  CHECK_THAT(layers(root, ref), Catch::StartsWith("[\"sha256:"));
  CHECK(layers(root, ref) == layers(seed, "bb"));
  const auto run = run_gctool(
      {"--root", root.str(), "run", "--rm", "--network", "none", ref, "echo", "from zstd"});
  CHECK(run.out == "from zstd\n");

  // A corrupted zstd blob is refused with one line and leaves nothing.
  const std::string blob =
      manifest["layers"][0]["digest"].get<std::string>().substr(std::string("sha256:").size());
  const auto data = reg.dir() / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256" /
                    blob.substr(0, 2) / blob / "data";
  REQUIRE(fs::exists(data));
  const std::string original = gctool::test::read_bytes(data);
  CHECK(original.substr(0, 4) == "\x28\xb5\x2f\xfd");
  std::string corrupted = original;
  corrupted[corrupted.size() / 2] ^= 0x55;
  write_bytes(data, corrupted);
  TempDir other;
  const auto bad = run_gctool({"--root", other.str(), "pull", ref});
  CHECK(bad.exit_code == 1);
  CHECK(count_lines(bad.err) == 1);
  check_store_empty(other);
}
