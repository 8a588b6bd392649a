#include <csignal>
#include <cstdint>
#include <limits>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/units.hpp"

using Catch::Matchers::Equals;
using Catch::Matchers::Message;

TEST_CASE("parse_memory_size accepts Docker's forms", "[core]") {
  CHECK(gctool::parse_memory_size("0") == 0);
  CHECK(gctool::parse_memory_size("1048576") == 1048576);
  CHECK(gctool::parse_memory_size("2b") == 2);
  CHECK(gctool::parse_memory_size("512k") == 512 * 1024);
  CHECK(gctool::parse_memory_size("512K") == 512 * 1024);
  CHECK(gctool::parse_memory_size("64m") == 64 << 20);
  CHECK(gctool::parse_memory_size("64mb") == 64 << 20);
  CHECK(gctool::parse_memory_size("64MB") == 64 << 20);
  CHECK(gctool::parse_memory_size("64 MiB") == 64 << 20);
  CHECK(gctool::parse_memory_size("1g") == std::int64_t{1} << 30);
  CHECK(gctool::parse_memory_size("1.5g") == std::int64_t{3} << 29);
  CHECK(gctool::parse_memory_size(".5k") == 512);
  CHECK(gctool::parse_memory_size("2t") == std::int64_t{2} << 40);
  CHECK(gctool::parse_memory_size("3p") == std::int64_t{3} << 50);
  CHECK(gctool::parse_memory_size("9223372036854775807") ==
        std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("parse_memory_size rejects garbage, negatives and overflow", "[core]") {
  CHECK_THROWS_MATCHES(gctool::parse_memory_size("abc"), gctool::Error,
                       Message("invalid memory size \"abc\""));
  for (const char* bad : {"", "m", "1.", "1.5.5", "1x", "1mm", "1bb", "1ib", " 1", "1e3", "0x10"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(gctool::parse_memory_size(bad), gctool::Error);
  }
  CHECK_THROWS_MATCHES(gctool::parse_memory_size("-1m"), gctool::Error,
                       Message("invalid memory size \"-1m\": must not be negative"));
  CHECK_THROWS_MATCHES(gctool::parse_memory_size("9223372036854775808"), gctool::Error,
                       Message("invalid memory size \"9223372036854775808\": too large"));
  CHECK_THROWS_AS(gctool::parse_memory_size("8192p"), gctool::Error);
  CHECK_THROWS_AS(gctool::parse_memory_size("99999999999999999999999999k"), gctool::Error);
}

TEST_CASE("parse_cpus gives nano-CPUs exactly", "[core]") {
  CHECK(gctool::parse_cpus("0.5") == 500'000'000);
  CHECK(gctool::parse_cpus("2") == 2'000'000'000);
  CHECK(gctool::parse_cpus("1.25") == 1'250'000'000);
  CHECK(gctool::parse_cpus("0.1") == 100'000'000);
  CHECK(gctool::parse_cpus(".001") == 1'000'000);
  CHECK(gctool::parse_cpus("0.000000001") == 1);
  CHECK(gctool::parse_cpus("1.5000000000000") == 1'500'000'000);
}

TEST_CASE("parse_cpus rejects zero, negatives, garbage and excess precision", "[core]") {
  CHECK_THROWS_MATCHES(gctool::parse_cpus("0"), gctool::Error,
                       Message("invalid --cpus value \"0\": must be greater than 0"));
  CHECK_THROWS_MATCHES(gctool::parse_cpus("0.0"), gctool::Error,
                       Message("invalid --cpus value \"0.0\": must be greater than 0"));
  CHECK_THROWS_MATCHES(gctool::parse_cpus("-1"), gctool::Error,
                       Message("invalid --cpus value \"-1\": must be greater than 0"));
  CHECK_THROWS_MATCHES(gctool::parse_cpus("x"), gctool::Error,
                       Message("invalid --cpus value \"x\": not a decimal number"));
  for (const char* bad : {"", "1.", "1,5", "1 ", "0.0000000001", "1e9", "9999999999999"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(gctool::parse_cpus(bad), gctool::Error);
  }
}

TEST_CASE("parse_cpu_list and format_cpu_list", "[core]") {
  using V = std::vector<int>;
  CHECK(gctool::parse_cpu_list("0-1,3") == V{0, 1, 3});
  CHECK(gctool::parse_cpu_list("3,0-1") == V{0, 1, 3});
  CHECK(gctool::parse_cpu_list("1,1,0-2") == V{0, 1, 2});
  CHECK(gctool::parse_cpu_list("7") == V{7});
  CHECK(gctool::parse_cpu_list("0-1\n") == V{0, 1});
  CHECK(gctool::parse_cpu_list("").empty());
  CHECK(gctool::parse_cpu_list("\n").empty());
  CHECK(gctool::parse_cpu_list("2-2") == V{2});

  CHECK_THROWS_MATCHES(gctool::parse_cpu_list("3-1"), gctool::Error,
                       Message("invalid CPU list \"3-1\": range \"3-1\" is reversed"));
  for (const char* bad : {"a", "0-", "-1", "0,,1", "0,", ",0", "1-2-3", "0 - 1", "0;1", "99999"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(gctool::parse_cpu_list(bad), gctool::Error);
  }

  CHECK(gctool::format_cpu_list({0, 1, 3}) == "0-1,3");
  CHECK(gctool::format_cpu_list({5, 0, 2, 1, 2}) == "0-2,5");
  CHECK(gctool::format_cpu_list({4}) == "4");
  CHECK(gctool::format_cpu_list({}).empty());
  CHECK(gctool::format_cpu_list(gctool::parse_cpu_list("0-3,8,10-11")) == "0-3,8,10-11");
}

TEST_CASE("parse_signal accepts names, numbers and real-time signals", "[core]") {
  CHECK(gctool::parse_signal("TERM") == SIGTERM);
  CHECK(gctool::parse_signal("SIGTERM") == SIGTERM);
  CHECK(gctool::parse_signal("sigkill") == SIGKILL);
  CHECK(gctool::parse_signal("Hup") == SIGHUP);
  CHECK(gctool::parse_signal("9") == 9);
  CHECK(gctool::parse_signal("64") == 64);
  CHECK(gctool::parse_signal("IOT") == SIGABRT);
  CHECK(gctool::parse_signal("CLD") == SIGCHLD);
  CHECK(gctool::parse_signal("RTMIN") == SIGRTMIN);
  CHECK(gctool::parse_signal("RTMIN+3") == SIGRTMIN + 3);
  CHECK(gctool::parse_signal("SIGRTMAX-1") == SIGRTMAX - 1);
  CHECK(gctool::parse_signal("rtmax") == SIGRTMAX);

  CHECK_THROWS_MATCHES(gctool::parse_signal("FOO"), gctool::Error,
                       Message("invalid signal \"FOO\""));
  for (const char* bad : {"", "0", "65", "-9", "SIG", "SIGSIGTERM", "TERM ", "RTMIN+99", "RTMAX-99",
                          "RTMIN+", "RTMIN-1", "9x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(gctool::parse_signal(bad), gctool::Error);
  }
}

TEST_CASE("signal_name names every signal so that parse_signal reads it back", "[core]") {
  CHECK(gctool::signal_name(SIGTERM) == "SIGTERM");
  CHECK(gctool::signal_name(SIGKILL) == "SIGKILL");
  CHECK(gctool::signal_name(SIGABRT) == "SIGABRT");
  CHECK(gctool::signal_name(SIGCHLD) == "SIGCHLD");
  CHECK(gctool::signal_name(SIGRTMIN) == "SIGRTMIN");
  CHECK(gctool::signal_name(SIGRTMIN + 3) == "SIGRTMIN+3");
  CHECK(gctool::signal_name(SIGRTMAX - 1) == "SIGRTMAX-1");
  CHECK(gctool::signal_name(SIGRTMAX) == "SIGRTMAX");
  for (int signal = 1; signal <= 64; ++signal) {
    CAPTURE(signal);
    CHECK(gctool::parse_signal(gctool::signal_name(signal)) == signal);
  }
}

TEST_CASE("format_bytes is Docker's human size", "[core]") {
  CHECK_THAT(gctool::format_bytes(0), Equals("0B"));
  CHECK_THAT(gctool::format_bytes(1), Equals("1B"));
  CHECK_THAT(gctool::format_bytes(999), Equals("999B"));
  CHECK_THAT(gctool::format_bytes(1000), Equals("1kB"));
  CHECK_THAT(gctool::format_bytes(1500000), Equals("1.5MB"));
  CHECK_THAT(gctool::format_bytes(123456789), Equals("123MB"));
  CHECK_THAT(gctool::format_bytes(1234567890), Equals("1.23GB"));
  CHECK_THAT(gctool::format_bytes(999999), Equals("1MB"));
  CHECK_THAT(gctool::format_bytes(7'400'000'000'000), Equals("7.4TB"));
  CHECK_THAT(gctool::format_bytes(std::numeric_limits<std::int64_t>::max()), Equals("9.22EB"));
  CHECK_THAT(gctool::format_bytes(-2048), Equals("-2.05kB"));
}

TEST_CASE("format_duration_ago is Docker's human duration", "[core]") {
  using std::chrono::seconds;
  CHECK(gctool::format_duration_ago(seconds(0)) == "Less than a second");
  CHECK(gctool::format_duration_ago(seconds(-3)) == "Less than a second");
  CHECK(gctool::format_duration_ago(seconds(1)) == "1 second");
  CHECK(gctool::format_duration_ago(seconds(5)) == "5 seconds");
  CHECK(gctool::format_duration_ago(seconds(59)) == "59 seconds");
  CHECK(gctool::format_duration_ago(seconds(60)) == "About a minute");
  CHECK(gctool::format_duration_ago(seconds(119)) == "About a minute");
  CHECK(gctool::format_duration_ago(seconds(120)) == "2 minutes");
  CHECK(gctool::format_duration_ago(seconds(59 * 60)) == "59 minutes");
  CHECK(gctool::format_duration_ago(seconds(3600)) == "About an hour");
  CHECK(gctool::format_duration_ago(seconds(3 * 3600)) == "3 hours");
  CHECK(gctool::format_duration_ago(seconds(47 * 3600)) == "47 hours");
  CHECK(gctool::format_duration_ago(seconds(48 * 3600)) == "2 days");
  CHECK(gctool::format_duration_ago(seconds(15 * 86400)) == "2 weeks");
  CHECK(gctool::format_duration_ago(seconds(90 * 86400)) == "3 months");
  CHECK(gctool::format_duration_ago(seconds(800 * 86400)) == "2 years");
}
