#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/proc.hpp"
#include "test_support.hpp"

namespace {

// A stat line with comm "a) (b c" and the given state; start time is field 22.
std::string stat_line(char state, std::uint64_t start_time) {
  return fmt::format(
      "1234 (a) (b c) {} 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 {} 2000000 300 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
      state, start_time);
}

}  // namespace

TEST_CASE("parse_proc_stat counts fields from the last parenthesis", "[core]") {
  const gctool::ProcStat stat = gctool::parse_proc_stat(stat_line('S', 987654321));
  CHECK(stat.state == 'S');
  CHECK(stat.ppid == 1);
  CHECK(stat.start_time == 987654321);
}

TEST_CASE("parse_proc_stat rejects malformed lines", "[core]") {
  std::string bad_start_time = stat_line('S', 777);
  bad_start_time.replace(bad_start_time.find("777"), 3, "7x7");
  for (const std::string& bad :
       {std::string(), std::string("1234 (x"), std::string("1 (x) S 1 2"),
        std::string("1 (x) S one 1 1 0 -1 1 1 1 1 1 1 1 1 1 1 1 1 1 5"), bad_start_time}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(gctool::parse_proc_stat(bad), gctool::Error);
  }
}

TEST_CASE("process_start_time of this process matches /proc/self/stat", "[core]") {
  const auto start = gctool::process_start_time(::getpid());
  REQUIRE(start.has_value());
  CHECK(*start == gctool::parse_proc_stat(gctool::read_file("/proc/self/stat")).start_time);
  CHECK(gctool::process_matches(::getpid(), *start));
  CHECK_FALSE(gctool::process_matches(::getpid(), *start + 1));
}

TEST_CASE("a reaped child has no start time and does not match", "[core]") {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  const auto start = gctool::process_start_time(pid);
  REQUIRE(start.has_value());
  CHECK(gctool::process_matches(pid, *start));
  ::kill(pid, SIGKILL);
  // Wait for the exit without reaping: the zombie still has a stat file but is not alive.
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) == 0);
  CHECK(gctool::process_start_time(pid) == start);
  CHECK_FALSE(gctool::process_matches(pid, *start));
  REQUIRE(::waitpid(pid, nullptr, 0) == pid);
  CHECK_FALSE(gctool::process_start_time(pid).has_value());
  CHECK_FALSE(gctool::process_matches(pid, *start));
}

TEST_CASE("read_proc_stat reads a fake /proc and rejects non-positive pids", "[core]") {
  gctool::test::TempDir proc;
  std::filesystem::create_directory(proc.path() / "77");
  gctool::write_file(proc.path() / "77" / "stat", stat_line('R', 555));
  const auto stat = gctool::read_proc_stat(77, proc.path());
  REQUIRE(stat.has_value());
  CHECK(stat->start_time == 555);
  CHECK_FALSE(gctool::read_proc_stat(78, proc.path()).has_value());
  CHECK_FALSE(gctool::read_proc_stat(0).has_value());
  CHECK_FALSE(gctool::read_proc_stat(-1).has_value());
}
