#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/json_file.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;

namespace {

// The Error that f throws; fails the test when it throws nothing.
template <typename F>
gctool::Error error_of(F f) {
  try {
    f();
  } catch (const gctool::Error& e) {
    return e;
  }
  FAIL("no exception");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("save_json then load_json round-trips", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "config.json";
  const nlohmann::json value = {{"id", "abc"}, {"pid", 42}, {"env", {"A=1", "B=2"}}};
  gctool::save_json(path, value);
  CHECK(gctool::load_json(path) == value);
  CHECK(gctool::try_load_json(path) == value);
  CHECK(gctool::read_file(path).back() == '\n');
}

TEST_CASE("a missing JSON file throws ENOENT naming it; try_load_json gives nullopt", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "missing.json";
  const gctool::Error e = error_of([&] { (void)gctool::load_json(path); });
  CHECK(e.errno_value() == ENOENT);
  CHECK_THAT(e.what(), Contains(path.string()));
  CHECK_FALSE(gctool::try_load_json(path).has_value());
}

TEST_CASE("corrupt or truncated JSON gives an error naming the file", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "config.json";
  const std::string valid = R"({"id": "abc", "state": {"pid": 42}})";
  const std::string contents = GENERATE_COPY(std::string(), valid.substr(0, valid.size() / 2),
                                             std::string("{\"id\": }"), std::string("not json"));
  gctool::write_file(path, contents);
  for (const bool optional : {false, true}) {
    const gctool::Error e = error_of([&] {
      if (optional) {
        (void)gctool::try_load_json(path);
      } else {
        (void)gctool::load_json(path);
      }
    });
    CHECK(e.errno_value() == EINVAL);
    CHECK_THAT(e.what(), Contains("corrupt JSON file \"" + path.string() + "\": "));
    CHECK_THAT(e.what(), !Contains("json.exception"));
  }
}

TEST_CASE("save_json refuses invalid UTF-8 and leaves the old file", "[core]") {
  gctool::test::TempDir dir;
  const auto path = dir.path() / "config.json";
  gctool::save_json(path, {{"ok", true}});
  const gctool::Error e = error_of([&] { gctool::save_json(path, {{"bad", "\xff\xfe"}}); });
  CHECK_THAT(e.what(), Contains(path.string()));
  CHECK(gctool::load_json(path) == nlohmann::json{{"ok", true}});
}
