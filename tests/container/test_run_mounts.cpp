// `run --tmpfs`, `--mount`, anonymous volumes (`-v /data`), relative host paths, the -v
// options Docker accepts (z, Z, propagation) and --volumes-from, end to end as a user sees them.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "container_support.hpp"

using gctool::test::check_refused;
using gctool::test::output_lines;
using gctool::test::TempDir;
using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

std::string first_line_of(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// The line of the container's /proc/mounts for `path`.
std::string mount_line(const TestRoot& root, const std::vector<std::string>& flags,
                       const std::string& path) {
  std::vector<std::string> args = {"run", "--rm"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"busybox", "grep", " " + path + " ", "/proc/mounts"});
  return root.run(args).out;
}

// Runs the test's gctool from `dir`, as a user in that directory would.
class InDirectory {
 public:
  explicit InDirectory(const std::filesystem::path& dir) : old_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  InDirectory(const InDirectory&) = delete;
  InDirectory& operator=(const InDirectory&) = delete;
  ~InDirectory() { std::filesystem::current_path(old_); }

 private:
  std::filesystem::path old_;
};

}  // namespace

TEST_CASE("run --tmpfs mounts a tmpfs with Docker's defaults and the options given", "[root]") {
  TestRoot root;
  const auto plain = mount_line(root, {"--tmpfs", "/scratch"}, "/scratch");
  CHECK(plain.find("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec") == 0);
  const auto sized = root.run({"run", "--rm", "--tmpfs", "/scratch:size=1m,mode=1770,exec",
                               "busybox", "sh", "-c", "stat -c %a /scratch; df -k /scratch"});
  CHECK(sized.exit_code == 0);
  CHECK(sized.out.find("1770\n") == 0);
  CHECK(sized.out.find(" 1024 ") != std::string::npos);
  CHECK(mount_line(root, {"--tmpfs", "/scratch:exec"}, "/scratch").find("noexec") ==
        std::string::npos);
  // Writable on a read-only root, and empty in the next container.
  CHECK(root.run({"run", "--rm", "--read-only", "--tmpfs", "/w", "busybox", "sh", "-c",
                  "echo x > /w/f && cat /w/f"})
            .out == "x\n");
  const auto name = unique_name("tmpfs");
  REQUIRE(root.run({"run", "--name", name, "--tmpfs", "/t:size=2m", "busybox", "true"}).exit_code ==
          0);
  const auto info = root.inspect(name);
  CHECK(info["HostConfig"]["Tmpfs"] == nlohmann::json{{"/t", "size=2m"}});
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("run --mount makes bind, volume and tmpfs mounts", "[root]") {
  TestRoot root;
  TempDir host;
  std::ofstream(host.path() / "file") << "from host\n";
  const auto bind =
      root.run({"run", "--rm", "--mount", "type=bind,source=" + host.str() + ",target=/b,readonly",
                "busybox", "sh", "-c", "cat /b/file; touch /b/new || echo refused"});
  CHECK(bind.out == "from host\nrefused\n");
  CHECK(!std::filesystem::exists(host.path() / "new"));

  const auto vol = unique_name("mvol");
  CHECK(root.run({"run", "--rm", "--mount", "type=volume,source=" + vol + ",target=/v", "busybox",
                  "sh", "-c", "echo kept > /v/f"})
            .exit_code == 0);
  CHECK(root.run({"run", "--rm", "--mount", "src=" + vol + ",dst=/w", "busybox", "cat", "/w/f"})
            .out == "kept\n");
  CHECK(root.run({"volume", "ls", "-q"}).out == vol + "\n");

  const auto tmpfs = mount_line(root, {"--mount", "type=tmpfs,target=/t,tmpfs-size=2m"}, "/t");
  CHECK(tmpfs.find("tmpfs /t tmpfs rw,nosuid,nodev,noexec") == 0);
  CHECK(tmpfs.find("size=2048k") != std::string::npos);
  CHECK(root.run({"volume", "rm", vol}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("an anonymous volume goes with --rm and rm -v, and stays after rm", "[root]") {
  TestRoot root;
  SECTION("--rm removes it") {
    const auto r = root.run(
        {"run", "--rm", "-v", "/data", "busybox", "sh", "-c", "echo x > /data/f && cat /data/f"});
    CHECK(r.out == "x\n");
    CHECK(root.run({"volume", "ls", "-q"}).out == "");
  }
  SECTION("rm -v removes it, with --mount too") {
    const auto name = unique_name("anon");
    REQUIRE(root.run({"run", "--name", name, "-v", "/data", "--mount", "type=volume,target=/more",
                      "busybox", "touch", "/data/f", "/more/g"})
                .exit_code == 0);
    const auto mounts = root.inspect(name)["Mounts"];
    REQUIRE(mounts.size() == 2);
    for (const auto& m : mounts) {
      CHECK(m["Type"] == "volume");
      CHECK(m["Name"].get<std::string>().size() == 64);
      CHECK(std::filesystem::exists(std::filesystem::path(m["Source"].get<std::string>())));
    }
    CHECK(output_lines(root.run({"volume", "ls", "-q"}).out) == 2);
    CHECK(root.run({"rm", "-v", name}).exit_code == 0);
    CHECK(root.run({"volume", "ls", "-q"}).out == "");
  }
  SECTION("rm without -v keeps it, as Docker") {
    const auto name = unique_name("anon");
    REQUIRE(root.run({"run", "--name", name, "-v", "/data", "busybox", "true"}).exit_code == 0);
    CHECK(root.run({"rm", name}).exit_code == 0);
    const auto left = root.run({"volume", "ls", "-q"}).out;
    CHECK(output_lines(left) == 1);
    CHECK(root.run({"volume", "rm", first_line_of(left)}).exit_code == 0);
  }
  SECTION("a container that fails to start leaves no volume") {
    // The hard limit cannot be raised above this host's: the init fails after the volume exists.
    const auto r =
        root.run({"run", "-v", "/data", "--ulimit", "nofile=4096:999999999", "busybox", "true"});
    CHECK(r.exit_code == 125);
    CHECK(output_lines(r.err) == 1);
    CHECK(r.err.find("setrlimit nofile") != std::string::npos);
    CHECK(root.run({"volume", "ls", "-q"}).out == "");
    CHECK(root.run({"ps", "-a", "-q"}).out == "");
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("run --volumes-from mounts another container's volumes and binds", "[root]") {
  TestRoot root;
  TempDir host;
  { std::ofstream(host.path() / "marker") << "from host\n"; }
  const auto donor = unique_name("vdonor");
  const auto vol = unique_name("vfvol");
  // Created, never started: its mounts are shared all the same, as Docker's.
  REQUIRE(root.run({"create", "--name", donor, "-v", vol + ":/data", "-v",
                    host.str() + ":/hostdata:ro", "-v", "/anon", "busybox", "true"})
              .exit_code == 0);
  const auto r = root.run({"run", "--rm", "--volumes-from", donor, "busybox", "sh", "-c",
                           "echo written > /data/f; echo anon > /anon/g; cat /hostdata/marker; "
                           "touch /hostdata/x 2>/dev/null || echo read-only"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "from host\nread-only\n");
  CHECK(root.run({"run", "--rm", "-v", vol + ":/v", "busybox", "cat", "/v/f"}).out == "written\n");
  // :ro makes every one read-only; :rw read-write; -v over the same destination wins.
  const auto ro = root.run({"run", "--rm", "--volumes-from", donor + ":ro", "busybox", "sh", "-c",
                            "cat /anon/g; touch /data/y 2>/dev/null || echo read-only"});
  CHECK(ro.out == "anon\nread-only\n");
  const auto rw = root.run({"run", "--rm", "--volumes-from", donor + ":rw", "busybox", "sh", "-c",
                            "touch /hostdata/x && echo rw"});
  CHECK(rw.out == "rw\n");
  CHECK(std::filesystem::exists(host.path() / "x"));
  const auto other = unique_name("vfother");
  const auto overridden = root.run(
      {"run", "--rm", "--volumes-from", donor, "-v", other + ":/data", "busybox", "ls", "/data"});
  CHECK(overridden.exit_code == 0);
  CHECK(overridden.out == "");
  const auto user = unique_name("vuser");
  REQUIRE(
      root.run({"create", "--name", user, "--volumes-from", donor, "busybox", "true"}).exit_code ==
      0);
  const auto info = root.inspect(user);
  CHECK(info["HostConfig"]["VolumesFrom"] == nlohmann::json{donor});
  CHECK(info["Mounts"].size() == 3);
  // The donor's anonymous volume stays its own: removing the user keeps it.
  CHECK(root.run({"rm", "-v", user}).exit_code == 0);
  CHECK(output_lines(root.run({"volume", "ls", "-q"}).out) == 3);
  for (const auto& bad : {std::string("nosuch"), donor + ":bogus", std::string(":ro")}) {
    check_refused(root, {"--volumes-from", bad});
  }
  CHECK(output_lines(root.run({"ps", "-a", "-q"}).out) == 1);
  CHECK(root.run({"rm", "-v", donor}).exit_code == 0);
  CHECK(root.run({"volume", "rm", vol, other}).exit_code == 0);
  CHECK(root.run({"volume", "ls", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run -v takes a host path relative to the working directory", "[root]") {
  TestRoot root;
  TempDir work;
  std::filesystem::create_directory(work.path() / "sub");
  std::ofstream(work.path() / "sub" / "f") << "relative\n";
  const InDirectory in(work.path());
  CHECK(root.run({"run", "--rm", "-v", "./sub:/d", "busybox", "cat", "/d/f"}).out == "relative\n");
  CHECK(root.run({"run", "--rm", "-v", ".:/d:ro", "busybox", "cat", "/d/sub/f"}).out ==
        "relative\n");
  CHECK(root.run({"run", "--rm", "--mount", "type=bind,src=./sub,dst=/d", "busybox", "cat", "/d/f"})
            .out == "relative\n");
  // As Docker, --mount takes a bare word for an absolute path and refuses it.
  check_refused(root, {"--mount", "type=bind,src=sub,dst=/d"});
  // Without ./ the word is a volume's name, as Docker reads it.
  const auto name = unique_name("rel");
  REQUIRE(root.run({"run", "--name", name, "-v", "./sub:/d", "busybox", "true"}).exit_code == 0);
  CHECK(root.inspect(name)["Mounts"][0]["Source"] == (work.path() / "sub").string());
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.run({"volume", "ls", "-q"}).out == "");
  CHECK(root.leaks().empty());
}

TEST_CASE("run -v accepts z, Z and a propagation mode", "[root]") {
  TestRoot root;
  TempDir host;
  std::ofstream(host.path() / "f") << "labelled\n";
  // There is no SELinux here: z and Z are accepted and relabel nothing.
  for (const auto* options : {":z", ":Z", ":ro,z", ":rw,Z", ":rslave", ":ro,rshared,z"}) {
    CAPTURE(options);
    const auto r =
        root.run({"run", "--rm", "-v", host.str() + ":/d" + options, "busybox", "cat", "/d/f"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "labelled\n");
  }
  const auto name = unique_name("prop");
  REQUIRE(root.run({"run", "--name", name, "-v", host.str() + ":/d:ro,rslave", "--mount",
                    "type=bind,src=" + host.str() + ",dst=/e,bind-propagation=shared", "busybox",
                    "true"})
              .exit_code == 0);
  const auto mounts = root.inspect(name)["Mounts"];
  REQUIRE(mounts.size() == 2);
  CHECK(mounts[0]["Propagation"] == "rslave");
  CHECK(mounts[0]["RW"] == false);
  CHECK(mounts[1]["Propagation"] == "shared");
  CHECK(root.run({"rm", name}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("bad mount specifications are one line, exit 125, nothing created", "[root]") {
  TestRoot root;
  TempDir host;
  const auto vol = unique_name("never");
  const std::vector<std::vector<std::string>> bad = {
      {"--tmpfs", "relative"},
      {"--tmpfs", "/t:size=abc"},
      {"--tmpfs", "/t:bogus"},
      {"--tmpfs", "/proc/x"},
      {"--mount", "type=nfs,target=/x"},
      {"--mount", "type=bind,target=/x"},
      {"--mount", "type=volume,source=" + vol + ",target=/x,bogus=1"},
      {"--mount", "type=volume,source=" + vol},
      {"--mount", "type=tmpfs,source=x,target=/t"},
      {"--mount", "type=volume,source=" + vol + ",target=/x,bind-propagation=rslave"},
      {"-v", host.str() + ":/d:xyz"},
      {"-v", vol + ":/d:rslave"},
      {"-v", "a:b:c:d"},
      {"-v", "/data:ro"},
      {"-v", "/data", "--tmpfs", "/data"},
      {"-v", vol + ":/sys/x"},
  };
  for (const auto& flags : bad) {
    check_refused(root, flags);
  }
  CHECK(root.run({"ps", "-a", "-q"}).out == "");
  CHECK(root.run({"volume", "ls", "-q"}).out == "");
  CHECK(root.leaks().empty());
}
