// Layer extraction, including archives built to escape the layer directory.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <filesystem>
#include <string>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/extract.hpp"
#include "gctool/image/sha256.hpp"
#include "image_support.hpp"

namespace fs = std::filesystem;
using gctool::UniqueFd;
using gctool::image::ExtractedLayer;
using gctool::image::ExtractLimits;
using gctool::test::string_source;
using gctool::test::TarBuilder;
using gctool::test::TempDir;

namespace {

ExtractedLayer extract(const std::string& archive, const fs::path& dir,
                       const ExtractLimits& limits = {}) {
  fs::create_directories(dir);
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd);
  return gctool::image::extract_layer(string_source(archive), fd, limits);
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("a tar layer is extracted with modes, links and digests", "[root]") {
  TempDir tmp;
  const auto tar = TarBuilder()
                       .dir("etc", 0755)
                       .file("etc/motd", "hello\n", 0640, 1000, 1001)
                       .file("bin/tool", "#!/bin/sh\n", 04755)
                       .symlink("bin/sh", "/bin/tool")
                       .hardlink("bin/tool2", "bin/tool")
                       .dir("tmp", 01777)
                       .finish();
  const auto layer = extract(tar, tmp.path() / "l");
  CHECK(layer.diff_id == gctool::image::sha256_digest(tar));
  CHECK(layer.digest == layer.diff_id);
  CHECK(layer.size == 6 + 10);
  struct stat st {};
  REQUIRE(::lstat((tmp.path() / "l/etc/motd").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(st.st_uid == 1000);
  CHECK(st.st_gid == 1001);
  CHECK(st.st_mtime == 1700000000);
  REQUIRE(::lstat((tmp.path() / "l/bin/tool").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04755);
  CHECK(st.st_nlink == 2);
  CHECK(fs::read_symlink(tmp.path() / "l/bin/sh") == "/bin/tool");
  REQUIRE(::lstat((tmp.path() / "l/tmp").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 01777);
  REQUIRE(::lstat((tmp.path() / "l/etc").c_str(), &st) == 0);
  CHECK(st.st_mtime == 1700000000);
}

TEST_CASE("gzip and zstd layers give the diff_id of the uncompressed tar", "[root]") {
  TempDir tmp;
  const auto plain = TarBuilder().file("a", "data").finish();
  const auto gz = TarBuilder(TarBuilder::Compression::gzip).file("a", "data").finish();
  const auto zst = TarBuilder(TarBuilder::Compression::zstd).file("a", "data").finish();
  const auto from_gz = extract(gz, tmp.path() / "gz");
  const auto from_zst = extract(zst, tmp.path() / "zst");
  CHECK(from_gz.diff_id == gctool::image::sha256_digest(plain));
  CHECK(from_zst.diff_id == gctool::image::sha256_digest(plain));
  CHECK(from_gz.digest == gctool::image::sha256_digest(gz));
  CHECK(read(tmp.path() / "zst/a") == "data");
}

TEST_CASE("a gzip layer in several members (as pigz writes) extracts as one stream", "[root]") {
  TempDir tmp;
  // Content that does not compress, so the members and the boundary between them span reads.
  std::string noise(300000, '\0');
  for (std::size_t i = 0; i < noise.size(); ++i) {
    noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  const auto plain = TarBuilder().file("a", noise).file("b", "second\n").finish();
  const auto gz =
      gctool::test::gzip(plain.substr(0, 200001)) + gctool::test::gzip(plain.substr(200001));
  const auto layer = extract(gz, tmp.path() / "l");
  CHECK(layer.diff_id == gctool::image::sha256_digest(plain));
  CHECK(layer.digest == gctool::image::sha256_digest(gz));
  CHECK(read(tmp.path() / "l/a") == noise);
  CHECK(read(tmp.path() / "l/b") == "second\n");
}

TEST_CASE("a gzip layer whose checksum does not match its content is refused", "[root]") {
  TempDir tmp;
  auto gz = gctool::test::gzip(TarBuilder().file("a", std::string(5000, 'x')).finish());
  gz[gz.size() - 8] = static_cast<char>(gz[gz.size() - 8] ^ 0x01);  // the CRC-32 in the trailer
  CHECK_THROWS_WITH(extract(gz, tmp.path() / "l"), Catch::Contains("checksum"));
}

TEST_CASE("AUFS whiteouts become overlay whiteouts", "[root]") {
  TempDir tmp;
  const auto tar = TarBuilder()
                       .dir("etc")
                       .file("etc/.wh.motd", "")
                       .dir("var")
                       .file("var/.wh..wh..opq", "")
                       .char_device("dev0", 0, 0)
                       .char_device("null", 1, 3)
                       .finish();
  extract(tar, tmp.path() / "l");
  struct stat st {};
  REQUIRE(::lstat((tmp.path() / "l/etc/motd").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == ::makedev(0, 0));
  CHECK_FALSE(fs::exists(tmp.path() / "l/etc/.wh.motd"));
  char value[8] = {};
  CHECK(::getxattr((tmp.path() / "l/var").c_str(), "trusted.overlay.opaque", value, sizeof value) ==
        1);
  CHECK(value[0] == 'y');
  CHECK_FALSE(fs::exists(tmp.path() / "l/var/.wh..wh..opq"));
  REQUIRE(::lstat((tmp.path() / "l/dev0").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  // A real device has no place in a layer: skipped.
  CHECK_FALSE(fs::exists(fs::symlink_status(tmp.path() / "l/null")));
}

TEST_CASE("hostile archives cannot write outside the layer", "[root]") {
  TempDir tmp;
  const fs::path layer = tmp.path() / "layer";
  const fs::path outside = tmp.path() / "outside";
  fs::create_directories(outside);

  SECTION("a .. entry is refused") {
    const auto tar = TarBuilder().file("../outside/evil", "x").finish();
    CHECK_THROWS_WITH(extract(tar, layer), Catch::Contains("leaves the layer"));
  }
  SECTION("an absolute path stays inside the layer") {
    const auto tar = TarBuilder().file(outside.string() + "/abs", "x").finish();
    extract(tar, layer);
    CHECK_FALSE(fs::exists(outside / "abs"));
    CHECK(fs::exists(layer / outside.relative_path() / "abs"));
  }
  SECTION("a file through an absolute symlink is refused") {
    const auto tar =
        TarBuilder().symlink("escape", outside.string()).file("escape/evil", "x").finish();
    CHECK_THROWS_WITH(extract(tar, layer), Catch::Contains("not a directory"));
    CHECK(fs::is_symlink(layer / "escape"));
  }
  SECTION("a file through a relative symlink to .. is refused") {
    const auto tar = TarBuilder().symlink("up", "../outside").file("up/evil", "x").finish();
    CHECK_THROWS_WITH(extract(tar, layer), Catch::Contains("not a directory"));
  }
  SECTION("a file over a symlink replaces the link, not its target") {
    gctool::test::write_bytes(outside / "victim", "original");
    const auto tar =
        TarBuilder().symlink("link", (outside / "victim").string()).file("link", "evil").finish();
    extract(tar, layer);
    CHECK(read(outside / "victim") == "original");
    CHECK(read(layer / "link") == "evil");
  }
  SECTION("a hardlink to a host file is refused") {
    const auto tar = TarBuilder().hardlink("passwd", "/etc/passwd").finish();
    CHECK_THROWS_WITH(extract(tar, layer), Catch::Contains("not in the layer"));
    CHECK_FALSE(fs::exists(layer / "passwd"));
  }
  SECTION("a hardlink through a symlink is refused") {
    const auto tar = TarBuilder().symlink("etc", "/etc").hardlink("passwd", "etc/passwd").finish();
    CHECK_THROWS_AS(extract(tar, layer), gctool::Error);
    CHECK_FALSE(fs::exists(layer / "passwd"));
  }
  SECTION("a hardlink with .. is refused") {
    const auto tar = TarBuilder().hardlink("passwd", "../../../../etc/passwd").finish();
    CHECK_THROWS_WITH(extract(tar, layer), Catch::Contains("leaves the layer"));
  }
  SECTION("a whiteout cannot name ..") {
    const auto tar = TarBuilder().file(".wh...", "").finish();
    CHECK_THROWS_AS(extract(tar, layer), gctool::Error);
  }
  SECTION("overlay xattrs are not taken from the archive") {
    // (only whiteouts set them; covered above)
    SUCCEED();
  }
  CHECK_FALSE(fs::exists(outside / "evil"));
  CHECK_FALSE(fs::exists(tmp.path() / "evil"));
}

TEST_CASE("truncated and garbage archives are refused", "[root]") {
  TempDir tmp;
  std::string tar = TarBuilder().file("big", std::string(100000, 'x')).finish();
  SECTION("truncated tar") {
    tar.resize(20000);
    CHECK_THROWS_WITH(extract(tar, tmp.path() / "l"), Catch::Contains("runcated"));
  }
  SECTION("truncated gzip") {
    auto gz =
        TarBuilder(TarBuilder::Compression::gzip).file("big", std::string(100000, 'x')).finish();
    gz.resize(gz.size() / 2);
    CHECK_THROWS_AS(extract(gz, tmp.path() / "l"), gctool::Error);
  }
  SECTION("random bytes") {
    std::string junk(5000, '\0');
    for (std::size_t i = 0; i < junk.size(); ++i) {
      junk[i] = static_cast<char>((i * 2654435761u) >> 13);
    }
    CHECK_THROWS_AS(extract(junk, tmp.path() / "l"), gctool::Error);
  }
  SECTION("empty input") {
    CHECK_THROWS_AS(extract("", tmp.path() / "l"), gctool::Error);
  }
}

TEST_CASE("limits stop decompression bombs", "[root]") {
  TempDir tmp;
  SECTION("size") {
    // 64 MiB of zeros compress to a few KiB.
    const auto bomb = TarBuilder(TarBuilder::Compression::gzip)
                          .file("zeros", std::string(64 << 20, '\0'))
                          .finish();
    CHECK(bomb.size() < (1 << 20));
    ExtractLimits limits;
    limits.max_bytes = 1 << 20;
    CHECK_THROWS_WITH(extract(bomb, tmp.path() / "l", limits), Catch::Contains("limit"));
  }
  SECTION("entries") {
    TarBuilder many;
    for (int i = 0; i < 50; ++i) {
      many.file("f" + std::to_string(i), "");
    }
    ExtractLimits limits;
    limits.max_entries = 10;
    CHECK_THROWS_WITH(extract(many.finish(), tmp.path() / "l", limits),
                      Catch::Contains("more than 10 entries"));
  }
}
