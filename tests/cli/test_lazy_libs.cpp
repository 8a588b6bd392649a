// The CLI loads libarchive, libisal and the other large libraries when a command first needs
// them (src/tool/lazy_libs.cpp): one it cannot load is an error of that command, reported on one
// line, with the command's cleanup done, and never a reason for gctool not to start.
#include <catch2/catch.hpp>

#include "image_support.hpp"

using gctool::test::TempDir;

namespace {

// Runs gctool ARGS in a private mount namespace where the library whose soname starts with
// `library` is an empty file.
gctool::test::RunResult run_without(const std::string& library,
                                    const std::vector<std::string>& args) {
  const std::string script =
      "lib=$(ldconfig -p | awk -v l=\"$1\" 'index($1, l \".so.\") == 1 {print $NF; exit}') && "
      "[ -n \"$lib\" ] && mount --bind /dev/null \"$lib\" && shift && exec \"$@\"";
  std::vector<std::string> argv{"unshare", "--mount", "--propagation", "private",    "sh", "-c",
                                script,    "sh",      library,         GCTOOL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return gctool::test::run_program(argv);
}

}  // namespace

TEST_CASE("a library gctool cannot load fails the command that needs it, cleanly", "[root]") {
  TempDir root("lazy");
  const auto version = run_without("libarchive", {"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("gctool version ") == 0);

  const auto plain = run_without("libarchive", {"--root", root.str(), "image", "import",
                                                gctool::test::busybox_tarball().string(), "t1"});
  CHECK(plain.exit_code == 125);
  CHECK(plain.err.find("gctool: load ") == 0);
  CHECK(plain.err.find("libarchive.so.") != std::string::npos);
  CHECK(gctool::test::output_lines(plain.err) == 1);

  // libisal is first needed midway through the import of a gzip layer, after the store made its
  // temporary directory: the error unwinds through the import, which removes it.
  const auto gz = root.path() / "busybox.tar.gz";
  gctool::test::write_bytes(
      gz, gctool::test::gzip(gctool::test::read_bytes(gctool::test::busybox_tarball())));
  const auto midway =
      run_without("libisal", {"--root", root.str(), "image", "import", gz.string(), "t2"});
  CHECK(midway.exit_code == 125);
  CHECK(midway.err.find("gctool: load ") == 0);
  CHECK(midway.err.find("libisal.so.") != std::string::npos);
  CHECK(gctool::test::store_temporaries(root.path()).empty());
  CHECK(gctool::test::gctool({"--root", root.str(), "image", "ls", "-q"}).out.empty());
}
