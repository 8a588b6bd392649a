// An image's (or a compromised container's) /etc/passwd and /etc/group are read by the init, and
// by exec, to resolve -u: a FIFO there must not hang the runtime, a symlink to /dev/zero must not
// make it read forever, a huge file must not be loaded, and a link out of the root must not
// reach the host's data. Each is refused with one clear line and exit 125, quickly.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "container_support.hpp"

namespace fs = std::filesystem;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

struct Row {
  std::string what;
  std::string change;  // shell commands that make the hostile image from busybox
  std::string expected;
};

const std::vector<Row> kRows = {
    {"/etc/passwd is a FIFO", "rm /etc/passwd && mkfifo /etc/passwd",
     "/etc/passwd in the container is a FIFO, not a regular file"},
    {"/etc/group is a symlink to /dev/zero", "ln -sf /dev/zero /etc/group",
     "/etc/group in the container is a character device, not a regular file"},
    {"/etc/passwd is 32 MiB", "dd if=/dev/zero bs=1M count=32 2>/dev/null >> /etc/passwd",
     "/etc/passwd in the container is larger than 16777216 bytes"},
    {"/etc/passwd is a symlink to the runtime's stdin", "ln -sf /proc/self/fd/0 /etc/passwd",
     "open /etc/passwd in the container: Too many levels of symbolic links"},
};

// gctool with a bound on its run time: a hang ends as a kill (exit 137), not a stuck test.
RunResult bounded(const TestRoot& root, std::vector<std::string> args,
                  const std::string& input = "") {
  args.insert(args.begin(), {"timeout", "-s", "KILL", "60", GCTOOL_BINARY, "--root", root.root()});
  return run_program(args, input);
}

// A host passwd line that names a user the image does not have.
const std::string kHostUser = "escapee:x:4242:4242::/:/bin/sh\n";

void check_refused(const RunResult& r, const std::string& expected,
                   std::chrono::steady_clock::duration took) {
  INFO("stdout: " << r.out << "stderr: " << r.err);
  CHECK(r.exit_code == 125);
  CHECK(r.out == "");
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.starts_with("gctool: "));
  CHECK_THAT(r.err, Catch::Contains(expected));
  CHECK(took < 30s);
}

// busybox changed by the shell commands `change`, committed as a new image.
std::string make_image(const TestRoot& root, const std::string& change) {
  const auto maker = unique_name("gct-users-");
  const auto made =
      root.run({"run", "--name", maker, "--network", "none", root.image_id(), "sh", "-c", change});
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  const auto image = unique_name("gct-users-image-");
  REQUIRE(root.run({"commit", maker, image}).exit_code == 0);
  REQUIRE(root.run({"rm", maker}).exit_code == 0);
  return image;
}

}  // namespace

TEST_CASE("run -u with a hostile /etc/passwd or /etc/group fails at once", "[root][security]") {
  TestRoot root;
  for (const auto& row : kRows) {
    INFO(row.what);
    const auto image = make_image(root, row.change);
    const auto start = std::chrono::steady_clock::now();
    // The memory limit keeps a runtime that reads /dev/zero from taking the host down.
    const auto r = bounded(
        root,
        {"run", "--rm", "-i", "--network", "none", "-m", "64m", "-u", "escapee", image, "id", "-u"},
        kHostUser);
    check_refused(r, row.expected, std::chrono::steady_clock::now() - start);
    CHECK(root.run({"image", "rm", image}).exit_code == 0);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("a symlinked /etc/passwd is followed inside the root, never to the host's file",
          "[root][security]") {
  TestRoot root;
  TempDir host{"gct-users-host"};
  write_bytes(host.path() / "passwd", kHostUser);
  for (const std::string& target :
       {host.str() + "/passwd", "../../../../../../../.." + host.str() + "/passwd"}) {
    INFO(target);
    const auto image = make_image(root, "ln -sf " + target + " /etc/passwd");
    const auto r =
        bounded(root, {"run", "--rm", "--network", "none", "-u", "escapee", image, "id", "-u"});
    INFO(r.err);
    CHECK(r.exit_code == 125);
    CHECK(r.out == "");
    CHECK_THAT(r.err, Catch::Contains("unable to find user escapee"));
    CHECK(root.run({"image", "rm", image}).exit_code == 0);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("exec -u with a hostile /etc/passwd or /etc/group fails at once", "[root][security]") {
  TestRoot root;
  for (const auto& row : kRows) {
    INFO(row.what);
    const auto name = run_detached(root, {"sleep", "1000"}, {"-m", "64m"});
    // A compromised container changes its own files; the admin then runs exec -u.
    REQUIRE(root.run({"exec", name, "sh", "-c", row.change}).exit_code == 0);
    const auto start = std::chrono::steady_clock::now();
    const auto r = bounded(root, {"exec", "-i", "-u", "escapee", name, "id", "-u"}, kHostUser);
    check_refused(r, row.expected, std::chrono::steady_clock::now() - start);
    remove(root, name);
  }
  CHECK(root.leaks().empty());
}
