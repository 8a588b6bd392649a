// Images built to attack the runtime: /proc, /dev or /sys as symlinks to host paths, /etc files
// and volume destinations that are symlinks out of the rootfs. Whatever the run does (refuse
// with a clear error, or follow the symlink inside the rootfs), nothing on the host outside the
// container's rootfs may be written, created or mounted.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "container_support.hpp"

namespace fs = std::filesystem;
using gctool::test::TarBuilder;
using gctool::test::TempDir;
using gctool::test::TestRoot;

namespace {

// Every entry below dir (not following symlinks) with its type, mode and content: two equal
// snapshots mean nothing was created, removed or written there.
std::string snapshot(const fs::path& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) {
      continue;
    }
    std::string line = fmt::format("{} {:o} {}", it->path().string(), st.st_mode, st.st_size);
    if (S_ISREG(st.st_mode)) {
      std::ifstream in(it->path());
      line += " " + std::string(std::istreambuf_iterator<char>(in), {});
    } else if (S_ISLNK(st.st_mode)) {
      line += " -> " + fs::read_symlink(it->path(), ec).string();
    }
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines) {
    out += line + "\n";
  }
  return out;
}

bool exists_no_follow(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// "../" enough times to climb from any directory of an image to its root, and further.
const std::string kClimb = "../../../../../../../../../../../..";

struct Row {
  std::string what;
  // Paths of busybox replaced (with everything below them) by symlinks: path -> target. In
  // targets and run arguments, {host} is a directory of the host holding a file, {missing} a
  // host path that does not exist, {volume} a host directory mounted as a volume.
  std::map<std::string, std::string> symlinks;
  std::vector<std::string> run_args;  // after `run --rm -h hostile`, before the image
  std::string script;                 // for sh -c in the container
  // Success: the output of script; failure: a fragment of the one-line error (exit 125).
  bool succeeds;
  std::string expected;
};

const std::vector<Row> kRows = {
    {"/proc is a symlink to a host directory",
     {{"proc", "{host}"}},
     {},
     "true",
     false,
     "the image's /proc is a symlink to \"{host}\": proc must be mounted on an ordinary directory"},
    {"/proc is a relative symlink out of the rootfs",
     {{"proc", kClimb + "{host}"}},
     {},
     "true",
     false,
     "proc must be mounted on an ordinary directory"},
    {"/dev is a symlink to a host directory",
     {{"dev", "{host}"}},
     {},
     "true",
     false,
     "the image's /dev is a symlink to \"{host}\": tmpfs must be mounted on an ordinary directory"},
    {"/sys is a symlink to a missing host path",
     {{"sys", "{missing}"}},
     {},
     "true",
     false,
     "the image's /sys is a symlink to \"{missing}\": sysfs must be mounted on an ordinary "
     "directory"},
    {"/etc/hosts is a symlink to a host file",
     {{"etc/hosts", "{host}/hosts"}},
     {},
     "grep -c hostile /etc/hosts {host}/hosts",
     true,
     "/etc/hosts:1\n{host}/hosts:1\n"},
    {"/etc/hosts is a relative symlink out of the rootfs",
     {{"etc/hosts", kClimb + "{host}/hosts"}},
     {},
     "grep -c hostile /etc/hosts",
     true,
     "1\n"},
    {"/etc/resolv.conf is a symlink to a missing host path",
     {{"etc/resolv.conf", "{missing}/resolv.conf"}},
     {},
     "test -f /etc/resolv.conf && test -f {missing}/resolv.conf && echo ok",
     true,
     "ok\n"},
    {"/etc/hostname is a relative symlink to a host file",
     {{"etc/hostname", kClimb + "{host}/hostname"}},
     {},
     "cat /etc/hostname",
     true,
     "hostile\n"},
    {"/etc is a symlink to a host directory",
     {{"etc", "{host}"}},
     {},
     "cat /etc/hostname; ls /etc",
     true,
     "hostile\nhostname\nhosts\nresolv.conf\n"},
    {"a volume destination is a symlink to a host directory",
     {{"link", "{host}"}},
     {"-v", "{volume}:/link"},
     "cat /link/from-volume {host}/from-volume",
     true,
     "volume\nvolume\n"},
    {"a volume destination is a relative symlink to a missing host path",
     {{"link", kClimb + "{missing}"}},
     {"-v", "{volume}:/link/sub:ro"},
     "cat /link/sub/from-volume {missing}/sub/from-volume",
     true,
     "volume\nvolume\n"},
    {"a volume destination is a symlink into /proc",
     {{"link", "/proc/sys/kernel"}},
     {"-v", "{volume}:/link"},
     "true",
     false,
     "volume destination \"/link\" leads to \"/proc/sys/kernel\": can't be inside /proc"},
    {"a volume destination is a symlink through /proc/self/root",
     {{"link", "/proc/self/root/{host}"}},
     {"-v", "{volume}:/link"},
     "true",
     false,
     "is a symlink of /proc, not followed"},
    {"the working directory is a symlink to a host directory",
     {{"wd", "{host}"}},
     {"-w", "/wd"},
     "echo x > created; cat {host}/created",
     true,
     "x\n"},
};

// Busybox with the row's symlinks in place of what it had there, imported under a new name.
std::string import_variant(const TestRoot& root, const TempDir& scratch,
                           const std::map<std::string, std::string>& symlinks,
                           const std::map<std::string, std::string>& vars) {
  TarBuilder tar;
  tar.copy_entries(gctool::test::busybox_tarball(), [&](std::string name) {
    if (name.starts_with("./")) {
      name.erase(0, 2);
    }
    return std::none_of(symlinks.begin(), symlinks.end(), [&](const auto& link) {
      return name == link.first || name == link.first + "/" || name.starts_with(link.first + "/");
    });
  });
  for (const auto& [path, target] : symlinks) {
    std::string resolved = target;
    for (const auto& [key, value] : vars) {
      resolved = replace_all(resolved, key, value);
    }
    tar.symlink(path, resolved);
  }
  const auto file = scratch.path() / "image.tar";
  gctool::test::write_bytes(file, tar.finish());
  const auto name = gctool::test::unique_name("hostile");
  const auto r = root.run({"image", "import", file.string(), name});
  REQUIRE(r.exit_code == 0);
  return name;
}

}  // namespace

TEST_CASE("hostile images write, create and mount nothing outside their rootfs", "[root]") {
  TestRoot root;
  TempDir scratch{"gct-hostile-scratch"};
  TempDir host{"gct-hostile-host"};
  TempDir volume{"gct-hostile-volume"};
  gctool::test::write_bytes(host.path() / "hosts", "127.0.0.1\tlocalhost\n");
  gctool::test::write_bytes(host.path() / "hostname", "the-host\n");
  fs::create_directory(host.path() / "sub");
  gctool::test::write_bytes(volume.path() / "from-volume", "volume\n");
  const fs::path missing = fs::path("/tmp") / gctool::test::unique_name("gct-hostile-missing-");
  const std::map<std::string, std::string> vars = {
      {"{host}", host.str()}, {"{missing}", missing.string()}, {"{volume}", volume.str()}};
  const auto expand = [&](std::string text) {
    for (const auto& [key, value] : vars) {
      text = replace_all(text, key, value);
    }
    return text;
  };
  const std::string host_before = snapshot(host.path());
  const std::string volume_before = snapshot(volume.path());

  for (const auto& row : kRows) {
    INFO(row.what);
    const auto image = import_variant(root, scratch, row.symlinks, vars);
    std::vector<std::string> args{"run", "--rm", "-h", "hostile"};
    for (const auto& arg : row.run_args) {
      args.push_back(expand(arg));
    }
    args.insert(args.end(), {image, "sh", "-c", expand(row.script)});
    const auto r = root.run(args);
    INFO("stdout: " << r.out << "stderr: " << r.err);
    if (row.succeeds) {
      CHECK(r.exit_code == 0);
      CHECK(r.out == expand(row.expected));
    } else {
      CHECK(r.exit_code == 125);
      CHECK(r.out == "");
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
      CHECK(r.err.starts_with("gctool: "));
      CHECK_THAT(r.err, Catch::Contains(expand(row.expected)));
    }
    CHECK(snapshot(host.path()) == host_before);
    CHECK(snapshot(volume.path()) == volume_before);
    CHECK_FALSE(exists_no_follow(missing));
    CHECK(gctool::test::mounts_under(host.str()).empty());
    CHECK(gctool::test::mounts_under(volume.str()).empty());
    CHECK(gctool::test::mounts_under(missing.string()).empty());
    CHECK(root.leaks().empty());
    CHECK(root.run({"image", "rm", image}).exit_code == 0);
  }
  if (exists_no_follow(missing)) {
    gctool::test::remove_tree_safely(missing);
  }
}
