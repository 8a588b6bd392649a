// Docker's --detach-keys: parsing the key list and spotting the sequence in typed input.
#include <catch2/catch.hpp>

#include "gctool/container/attach.hpp"
#include "gctool/core/error.hpp"

using gctool::container::DetachKeys;
using gctool::container::parse_detach_keys;

TEST_CASE("detach keys parse as Docker's", "[attach]") {
  CHECK(parse_detach_keys("ctrl-p,ctrl-q") == "\x10\x11");
  CHECK(parse_detach_keys("ctrl-a,x") == "\x01x");
  CHECK(parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") ==
        std::string("\x00\x1b\x1c\x1d\x1e\x1f", 6));
  CHECK(parse_detach_keys("ctrl-P") == "\x10");
  for (const char* bad : {"ctrl-1", "foo", "ctrl-", "ctrl-p,,ctrl-q", "ctrl-pp"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_detach_keys(bad),
                      "Invalid detach keys (" + std::string(bad) + ") provided");
  }
}

TEST_CASE("the detach sequence is held back until it completes or fails", "[attach]") {
  DetachKeys keys("\x10\x11");
  CHECK(keys.feed("ab\x10") == "ab");
  CHECK_FALSE(keys.detached());
  // A partial match that fails is passed on, and the byte that broke it may start a new one.
  CHECK(keys.feed("c\x10\x10") ==
        "\x10"
        "c\x10");
  CHECK(keys.feed("\x11zz") == "");
  CHECK(keys.detached());

  DetachKeys split("\x10\x11");
  CHECK(split.feed("x\x10").size() == 1);
  CHECK(split.feed("\x11").empty());
  CHECK(split.detached());

  DetachKeys none("");
  CHECK(none.feed("\x10\x11") == "\x10\x11");
  CHECK_FALSE(none.detached());
}
