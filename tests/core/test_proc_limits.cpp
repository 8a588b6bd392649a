#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/proc_limits.hpp"

TEST_CASE("read_proc_limits gives what getrlimit gives", "[core]") {
  const auto limits = gctool::read_proc_limits(::getpid());
  REQUIRE(limits.size() >= RLIM_NLIMITS);
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    INFO("resource " << r);
    rlimit own{};
    REQUIRE(::getrlimit(static_cast<__rlimit_resource>(r), &own) == 0);
    CHECK(limits[static_cast<std::size_t>(r)].rlim_cur == own.rlim_cur);
    CHECK(limits[static_cast<std::size_t>(r)].rlim_max == own.rlim_max);
  }
}

TEST_CASE("parse_proc_limits refuses what is not a limits table", "[core]") {
  CHECK_THROWS_AS(gctool::parse_proc_limits(""), gctool::Error);
  CHECK_THROWS_AS(gctool::parse_proc_limits("Limit  Soft Limit  Hard Limit  Units\n"),
                  gctool::Error);
  std::string text = "Limit                     Soft Limit           Hard Limit           Units\n";
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    text += "Max open files            1024                 x4096                files\n";
  }
  CHECK_THROWS_AS(gctool::parse_proc_limits(text), gctool::Error);
}
