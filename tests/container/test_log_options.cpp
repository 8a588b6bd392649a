// The --log-opt parser.
#include <catch2/catch.hpp>

#include "gctool/container/log_options.hpp"
#include "gctool/core/error.hpp"

using gctool::container::parse_log_opts;

TEST_CASE("log options parse max-size and max-file") {
  CHECK(parse_log_opts({}).max_size == 0);
  CHECK(parse_log_opts({}).max_files == 1);
  const auto options = parse_log_opts({"max-size=10m", "max-file=3"});
  CHECK(options.max_size == 10 * 1024 * 1024);
  CHECK(options.max_files == 3);
  CHECK(parse_log_opts({"max-size=1k"}).max_files == 1);
}

TEST_CASE("bad log options are named in the error") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(parse_log_opts({"max-size"}), Contains("\"max-size\": expected key=value"));
  CHECK_THROWS_WITH(parse_log_opts({"max-size=lots"}),
                    Contains("invalid log option \"max-size=lots\""));
  CHECK_THROWS_WITH(parse_log_opts({"max-size=0"}), Contains("more than 0"));
  CHECK_THROWS_WITH(parse_log_opts({"max-size=1m", "max-file=0"}), Contains("at least 1"));
  CHECK_THROWS_WITH(parse_log_opts({"max-size=1m", "max-file=x"}), Contains("must be a number"));
  CHECK_THROWS_WITH(parse_log_opts({"max-file=3"}), Contains("max-file needs max-size"));
  CHECK_THROWS_WITH(parse_log_opts({"compress=true"}),
                    Contains("unknown log option \"compress=true\""));
  CHECK_THROWS_AS(parse_log_opts({"mode=x"}), gctool::Error);
}
