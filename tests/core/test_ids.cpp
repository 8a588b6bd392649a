#include <set>

#include <catch2/catch.hpp>

#include "gctool/core/ids.hpp"

TEST_CASE("random_id is 64 lowercase hex digits and unique", "[core]") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = gctool::random_id();
    CHECK(gctool::valid_id(id));
    const std::string short_form = gctool::short_id(id);
    CHECK(short_form.find_first_not_of("0123456789") != std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("short_id and valid_id", "[core]") {
  const std::string id(64, 'a');
  CHECK(gctool::short_id(id) == "aaaaaaaaaaaa");
  CHECK(gctool::short_id("abc") == "abc");
  CHECK(gctool::valid_id(id));
  CHECK_FALSE(gctool::valid_id(std::string(63, 'a')));
  CHECK_FALSE(gctool::valid_id(std::string(64, 'A')));
  CHECK_FALSE(gctool::valid_id(std::string(64, 'g')));
}

TEST_CASE("random_name is adjective_surname and a valid name", "[core]") {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string name = gctool::random_name();
    CAPTURE(name);
    CHECK(gctool::valid_name(name));
    const auto underscore = name.find('_');
    REQUIRE(underscore != std::string::npos);
    CHECK(name.find('_', underscore + 1) == std::string::npos);
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
    seen.insert(name);
  }
  CHECK(seen.size() > 1);
}

TEST_CASE("valid_name follows Docker's rule", "[core]") {
  for (const char* good : {"web", "a1", "my_app.v2-test", "0x", "A-b"}) {
    CAPTURE(good);
    CHECK(gctool::valid_name(good));
  }
  for (const char* bad : {"", "a", "_web", "-web", ".web", "web/1", "web 1", "wéb", "a:b"}) {
    CAPTURE(bad);
    CHECK_FALSE(gctool::valid_name(bad));
  }
  CHECK(gctool::valid_name(std::string(128, 'a')));
  CHECK_FALSE(gctool::valid_name(std::string(129, 'a')));
}
