// `attach` as Docker's: a detached container's output (stdout and stderr apart, or its tty) and
// its stdin through the supervisor, the container's exit code, detach keys that leave it running
// (with a tty), signals proxied, and one line for a container that cannot be attached or bad keys.
#include <signal.h>

#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::Background;
using gctool::test::TestRoot;

namespace {

// Whether process pid holds a socket (the attach client has connected, or is about to).
bool holds_socket(pid_t pid) {
  std::error_code ec;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    if (std::filesystem::read_symlink(fd.path(), ec).string().starts_with("socket:")) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("attach relays stdin, stdout and stderr apart and exits with the container", "[root]") {
  TestRoot root;
  const auto name = gctool::test::run_detached(
      root, {"sh", "-c", "read line; echo got $line; echo oops >&2; exit 3"}, {"-i"});
  const auto attach = root.run({"attach", name}, "hello\n");
  INFO(attach.err);
  CHECK(attach.exit_code == 3);
  CHECK(attach.out == "got hello\n");
  CHECK(attach.err == "oops\n");
  // The exit is recorded when attach returns, and the log has the output as well.
  CHECK(root.inspect(name)["State"]["ExitCode"] == 3);
  CHECK(root.inspect(name)["State"]["Status"] == "exited");
  CHECK(root.run({"logs", name}).out == "got hello\n");

  const auto stopped = root.run({"attach", name});
  CHECK(stopped.exit_code == 1);
  CHECK(stopped.out.empty());
  CHECK(stopped.err == "gctool: You cannot attach to a stopped container, start it first\n");
  gctool::test::remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("attach without a tty passes the detach keys on as input, as Docker", "[root]") {
  TestRoot root;
  // As Docker's CopyStreams: only a tty watches for the keys (see the -it tests below).
  const auto name =
      gctool::test::run_detached(root, {"sh", "-c", "read line; echo \"$line\""}, {"-i"});
  const auto attach = root.run({"attach", name}, "one\x10\x11two\n");
  INFO(attach.err);
  CHECK(attach.exit_code == 0);
  CHECK(attach.out == "one\x10\x11two\n");
  CHECK(root.inspect(name)["State"]["Status"] == "exited");

  const auto other = gctool::test::run_detached(root, {"cat"}, {"-i"});
  const auto bad = root.run({"attach", "--detach-keys", "ctrl-1", other});
  CHECK(bad.exit_code == 125);
  CHECK(bad.err == "gctool: Invalid detach keys (ctrl-1) provided\n");
  CHECK(root.inspect(other)["State"]["Running"] == true);
  CHECK(root.run({"attach", "nosuch-container"}).exit_code == 1);
  CHECK(root.run({"rm", "-f", name, other}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("attach to a container with a tty relays the terminal", "[root]") {
  TestRoot root;
  const auto name = gctool::test::run_detached(root, {"sh"}, {"-i", "-t"});
  const auto attach = root.run({"attach", name}, "echo hi-$((6*7))\nexit 5\n");
  INFO(attach.err);
  CHECK(attach.exit_code == 5);
  // The pty echoes the input and turns \n into \r\n.
  CHECK(attach.out.find("hi-42\r\n") != std::string::npos);
  CHECK(root.inspect(name)["State"]["ExitCode"] == 5);
  gctool::test::remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("attach --no-stdin shows output only; signals are proxied unless --sig-proxy=false",
          "[root]") {
  TestRoot root;
  const auto name = gctool::test::run_detached(
      root, {"sh", "-c", "trap 'echo term; exit 9' TERM; while true; do sleep 0.1; done"});
  {
    // --sig-proxy=false: the signal ends attach only.
    Background quiet(root, {"attach", "--sig-proxy=false", "--no-stdin", name});
    REQUIRE(gctool::test::wait_until([&] { return holds_socket(quiet.pid()); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::kill(quiet.pid(), SIGTERM);
    CHECK(quiet.wait() == 128 + SIGTERM);
    CHECK(root.inspect(name)["State"]["Running"] == true);
  }
  Background attach(root, {"attach", "--no-stdin", name});
  REQUIRE(gctool::test::wait_until([&] { return holds_socket(attach.pid()); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(attach.pid(), SIGTERM);
  CHECK(attach.wait() == 9);
  CHECK(root.inspect(name)["State"]["ExitCode"] == 9);
  CHECK(root.run({"logs", name}).out == "term\n");
  gctool::test::remove(root, name);
  CHECK(root.leaks().empty());
}

TEST_CASE("run -it detaches on ctrl-p ctrl-q or --detach-keys and the container keeps running",
          "[root]") {
  TestRoot root;
  const auto name = gctool::test::unique_name("runit");
  {
    gctool::test::TerminalSession terminal({GCTOOL_BINARY, "--root", root.root(), "run", "-it",
                                            "--name", name, "--network", "none", "busybox", "sh"});
    REQUIRE(terminal.wait_for("# "));  // the prompt, printed before anything was typed
    terminal.type("echo hi-$((6*7))\n");
    REQUIRE(terminal.wait_for("hi-42"));
    terminal.type("\x10\x11");
    CHECK(terminal.wait_exit() == 0);
  }
  CHECK(root.inspect(name)["State"]["Running"] == true);
  CHECK(root.run({"logs", name}).out.find("hi-42") != std::string::npos);
  // Attach again and leave with other keys set on run.
  {
    gctool::test::TerminalSession terminal(
        {GCTOOL_BINARY, "--root", root.root(), "attach", "--detach-keys", "ctrl-x,x", name});
    terminal.type("\n");
    REQUIRE(terminal.wait_for("# "));
    terminal.type("\x18x");
    CHECK(terminal.wait_exit() == 0);
  }
  CHECK(root.inspect(name)["State"]["Running"] == true);
  gctool::test::remove(root, name);

  const auto custom = gctool::test::unique_name("runit");
  {
    gctool::test::TerminalSession terminal({GCTOOL_BINARY, "--root", root.root(), "run", "-it",
                                            "--detach-keys", "ctrl-a,d", "--name", custom,
                                            "--network", "none", "busybox", "sh"});
    REQUIRE(terminal.wait_for("# "));
    terminal.type("\x10\x11");  // not the keys now: passed on to the shell
    terminal.type(
        "\x01"
        "d");
    CHECK(terminal.wait_exit() == 0);
  }
  CHECK(root.inspect(custom)["State"]["Running"] == true);
  gctool::test::remove(root, custom);

  // Without detaching, run -it ends with the container, its exit code its own; --rm removes it.
  {
    gctool::test::TerminalSession terminal({GCTOOL_BINARY, "--root", root.root(), "run", "-it",
                                            "--rm", "--network", "none", "busybox", "sh"});
    REQUIRE(terminal.wait_for("# "));
    terminal.type("exit 7\n");
    CHECK(terminal.wait_exit() == 7);
  }
  CHECK(root.run({"ps", "-aq"}).out.empty());

  const auto bad =
      root.run({"run", "-it", "--detach-keys", "ctrl-1", "--network", "none", "busybox", "sh"});
  CHECK(bad.exit_code == 125);
  CHECK(bad.err == "gctool: Invalid detach keys (ctrl-1) provided\n");
  CHECK(root.run({"ps", "-aq"}).out.empty());
  CHECK(root.leaks().empty());
}
