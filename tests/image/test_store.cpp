// The image store through its library API: import, resolve, shared layers, removal.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/image/store.hpp"
#include "image_support.hpp"

namespace fs = std::filesystem;
using gctool::UniqueFd;
using gctool::image::ImageStore;
using gctool::image::parse_reference;
using gctool::test::string_source;
using gctool::test::TarBuilder;
using gctool::test::TempDir;

namespace {

// No container uses any image.
const gctool::image::ImageUsers no_users = [](std::string_view) {
  return std::vector<std::string>();
};

gctool::image::Image import_file(ImageStore& store, const fs::path& file, const std::string& ref) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd);
  return store.import_rootfs(gctool::image::fd_source(fd), parse_reference(ref));
}

}  // namespace

TEST_CASE("an imported busybox rootfs resolves by name, tag, id and id prefix", "[root]") {
  TempDir root;
  ImageStore store(root.path());
  const auto image = import_file(store, gctool::test::busybox_tarball(), "busybox");
  CHECK(image.id.starts_with("sha256:"));
  CHECK(image.id.size() == 7 + 64);
  CHECK(image.repo_tags == std::vector<std::string>{"busybox:latest"});
  REQUIRE(image.layer_dirs.size() == 1);
  CHECK(image.layer_dirs[0] == root.path() / "layers" / image.diff_ids[0].substr(7));
  CHECK(fs::is_regular_file(image.layer_dirs[0] / "bin/busybox"));
  CHECK(fs::read_symlink(image.layer_dirs[0] / "bin/sh") == "busybox");
  struct stat st {};
  REQUIRE(::stat((image.layer_dirs[0] / "tmp").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 01777);
  REQUIRE(::stat(image.layer_dirs[0].c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  CHECK(image.size > 500'000);

  for (const auto& ref :
       std::vector<std::string>{"busybox", "busybox:latest", image.id, image.id.substr(7),
                                image.short_id(), image.id.substr(7, 4)}) {
    INFO(ref);
    CHECK(store.resolve(ref).id == image.id);
  }
  CHECK_THROWS_WITH(store.resolve("nothere"), "no such image: nothere");
  CHECK_THROWS_WITH(store.resolve("busybox:other"), "no such image: busybox:other");
  CHECK_FALSE(store.try_resolve("nothere"));
  CHECK(gctool::test::store_temporaries(root.path()).empty());
}

TEST_CASE("images with the same layer share its directory; removal frees unused layers", "[root]") {
  TempDir root;
  ImageStore store(root.path());
  const auto tar = TarBuilder().file("hello", "world").finish();
  const auto a = store.import_rootfs(string_source(tar), parse_reference("a"));
  const auto b = store.import_rootfs(string_source(tar), parse_reference("b:1"));
  CHECK(a.id != b.id);  // the configurations differ in their creation time
  CHECK(a.layer_dirs == b.layer_dirs);
  CHECK(store.list().size() == 2);

  auto removed = store.remove("a", false, no_users);
  CHECK(removed.untagged == std::vector<std::string>{"a:latest"});
  CHECK(removed.deleted == std::vector<std::string>{a.id});
  CHECK(fs::exists(b.layer_dirs[0] / "hello"));
  removed = store.remove("b:1", false, no_users);
  CHECK(removed.deleted == std::vector<std::string>{b.id});
  CHECK_FALSE(fs::exists(b.layer_dirs[0]));
  CHECK(store.list().empty());
  CHECK(fs::is_empty(root.path() / "layers"));
}

TEST_CASE("a tag is moved, shared and removed like Docker's", "[root]") {
  TempDir root;
  ImageStore store(root.path());
  const auto tar = TarBuilder().file("x", "1").finish();
  const auto first = store.import_rootfs(string_source(tar), parse_reference("app"));
  const auto tagged = store.tag("app", "app:v1");
  CHECK(tagged.repo_tags == std::vector<std::string>{"app:latest", "app:v1"});
  // An id with two tags needs force; a tag of an image with two only untags.
  CHECK_THROWS_WITH(store.remove(first.id, false, no_users), Catch::Contains("must be forced"));
  CHECK(store.remove("app:v1", false, no_users).deleted.empty());
  // Importing again under the same tag leaves the first image dangling.
  const auto second = store.import_rootfs(string_source(tar), parse_reference("app"));
  CHECK(store.resolve("app").id == second.id);
  CHECK(store.resolve(first.id).repo_tags.empty());
  CHECK(store.list().size() == 2);
}

TEST_CASE("an image its users name is only removed with force", "[root]") {
  TempDir root;
  ImageStore store(root.path());
  const auto image = store.import_rootfs(string_source(TarBuilder().file("x", "1").finish()),
                                         parse_reference("used"));
  std::vector<std::string> asked;
  const gctool::image::ImageUsers users = [&](std::string_view id) {
    asked.emplace_back(id);
    return std::vector<std::string>{"c0ffee"};
  };
  CHECK_THROWS_WITH(store.remove("used", false, users),
                    Catch::Contains("used by container c0ffee"));
  CHECK(asked == std::vector<std::string>{image.id});
  CHECK(store.resolve("used").id == image.id);
  CHECK(store.remove("used", true, users).deleted == std::vector<std::string>{image.id});
  CHECK_FALSE(store.try_resolve(image.id));
}

TEST_CASE("a failed import leaves no image and no temporary directory", "[root]") {
  TempDir root;
  ImageStore store(root.path());
  const auto good = store.import_rootfs(string_source(TarBuilder().file("x", "1").finish()),
                                        parse_reference("good"));
  const auto bad = TarBuilder().file("ok", "1").file("../evil", "x").finish();
  CHECK_THROWS_AS(store.import_rootfs(string_source(bad), parse_reference("bad")), gctool::Error);
  CHECK_FALSE(store.try_resolve("bad"));
  CHECK(store.list().size() == 1);
  CHECK(gctool::test::store_temporaries(root.path()).empty());
  std::size_t layers = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(root.path() / "layers")) {
    ++layers;
  }
  CHECK(layers == 1);
  CHECK(store.resolve("good").id == good.id);
}

TEST_CASE("a stale temporary layer of a crashed import is swept", "[root]") {
  TempDir root;
  ImageStore store(root.path());
  fs::create_directories(root.path() / "layers/.tmp-crashed/sub");
  store.import_rootfs(string_source(TarBuilder().file("x", "1").finish()), parse_reference("a"));
  CHECK(gctool::test::store_temporaries(root.path()).empty());
}
