// The same Dockerfile built by gctool and by Debian's `buildah bud` (vfs storage in a temporary
// root, chroot isolation: crun refuses this host's hybrid cgroups) gives the same file tree and
// the same run configuration. Both images are read back through buildah, so one extraction
// serves both sides.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "container_support.hpp"
#include "gctool/image/sha256.hpp"
#include "image_support.hpp"

using namespace gctool::test;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// path -> "mode uid gid content-or-target" for everything under root, timestamps left out.
std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    struct stat st {};
    REQUIRE(::lstat(it->path().c_str(), &st) == 0);
    std::string what;
    if (S_ISREG(st.st_mode)) {
      std::ifstream in(it->path(), std::ios::binary);
      what = gctool::image::sha256_hex(std::string(std::istreambuf_iterator<char>(in), {}));
    } else if (S_ISLNK(st.st_mode)) {
      what = fs::read_symlink(it->path()).string();
    }
    out[fs::relative(it->path(), root).string()] =
        fmt::format("{:o} {} {} {}", st.st_mode, st.st_uid, st.st_gid, what);
  }
  return out;
}

const char* kDockerfile = R"DF(FROM busybox AS build
WORKDIR /work
COPY src/ ./src/
RUN mkdir -p out && cp -a src/* out/ && echo built > out/built.txt && chmod 700 out/sub
FROM busybox
LABEL app=cmp "with space"="a b"
ENV MODE=prod
COPY --from=build /work/out /opt/app/
COPY src/one.txt /etc/one.txt
COPY --chown=1234:1234 --chmod=640 src/sub/two.txt /opt/owned/
RUN rm /bin/vi && mkdir -p /var/data && ln -s /opt/app/built.txt /var/data/built \
    && echo "cmpuser:x:1234:1234::/opt/app:/bin/sh" >> /etc/passwd
WORKDIR /opt/app
USER cmpuser
EXPOSE 9000 53/udp
ENTRYPOINT ["/bin/sh"]
CMD ["-c", "cat built.txt"]
)DF";

}  // namespace

TEST_CASE("gctool build and buildah bud give the same tree and configuration",
          "[root][build][buildah]") {
  REQUIRE(run_program({"buildah", "--version"}).exit_code == 0);  // Debian's buildah package
  TestRoot root;
  TempDir work("gct-buildah");
  const fs::path ctx = work.path() / "ctx";
  write(ctx / "Dockerfile", kDockerfile);
  write(ctx / "src" / "one.txt", "one\n");
  write(ctx / "src" / "sub" / "two.txt", "two\n");
  fs::permissions(ctx / "src" / "sub" / "two.txt", fs::perms::owner_read | fs::perms::owner_write);
  fs::create_symlink("one.txt", ctx / "src" / "link");

  // Like podman, buildah refuses a run root longer than 50 characters.
  const TempDir runroot("gct-bh", "/run");
  const std::vector<std::string> buildah = {
      "buildah",          "--root", (work.path() / "storage").string(), "--runroot", runroot.str(),
      "--storage-driver", "vfs"};
  const auto bh = [&](std::vector<std::string> args) {
    args.insert(args.begin(), buildah.begin(), buildah.end());
    auto r = run_program(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return trimmed(r.out);
  };
  // buildah starts from the same busybox image.
  const fs::path base = work.path() / "busybox.tar";
  REQUIRE(root.run({"image", "save", "busybox", "-o", base.string()}).exit_code == 0);
  bh({"pull", "-q", "docker-archive:" + base.string()});

  const auto built = root.run({"build", "-q", "--network", "none", "-t", "cmp", ctx.string()});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  const fs::path saved = work.path() / "gctool.tar";
  REQUIRE(root.run({"image", "save", "cmp", "-o", saved.string()}).exit_code == 0);
  bh({"pull", "-q", "docker-archive:" + saved.string()});
  bh({"bud", "-q", "--isolation", "chroot", "-t", "bh", ctx.string()});

  const std::string ours = bh({"from", "--pull=never", "localhost/cmp"});
  const std::string theirs = bh({"from", "--pull=never", "localhost/bh"});
  const auto our_tree = tree(bh({"mount", ours}));
  const auto their_tree = tree(bh({"mount", theirs}));
  CHECK(our_tree.size() > 20);
  for (const auto& [path, what] : their_tree) {
    INFO(path);
    CHECK(our_tree.contains(path));
    if (our_tree.contains(path)) {
      CHECK(our_tree.at(path) == what);
    }
  }
  for (const auto& [path, what] : our_tree) {
    INFO(path);
    CHECK(their_tree.contains(path));
  }

  const auto config = [&](const std::string& image) {
    auto c =
        nlohmann::json::parse(bh({"inspect", "--type", "image", image})).at("Docker").at("config");
    c["Labels"].erase("io.buildah.version");
    return c;
  };
  const auto mine = config("localhost/cmp");
  const auto other = config("localhost/bh");
  for (const char* key :
       {"Cmd", "Entrypoint", "Env", "WorkingDir", "User", "ExposedPorts", "Labels"}) {
    INFO(key);
    CHECK(mine.value(key, nlohmann::json()) == other.value(key, nlohmann::json()));
  }
  bh({"umount", "-a"});
  bh({"rm", "-a"});
  bh({"rmi", "-a", "-f"});
  CHECK(root.leaks().empty());
}
