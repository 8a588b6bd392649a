// record_for_listing: the fields `ps` shows and filters on, read from a stored record as the
// full parse reads them; anything unexpected is refused so that the full parse can judge it.
#include <catch2/catch.hpp>

#include "gctool/container/state.hpp"
#include "gctool/core/json_scan.hpp"
#include "gctool/net/ipv4.hpp"
#include "gctool/net/ports.hpp"

using namespace gctool;
using namespace gctool::container;

namespace {

Record rich_record() {
  Record r;
  r.id = std::string(64, 'a');
  r.name = "web-1";
  r.created = "2026-12-02T17:00:00.123456789Z";
  r.spec.name = r.name;
  r.spec.image_ref = "busybox:latest";
  r.spec.image_id = "sha256:" + std::string(64, 'b');
  r.spec.entrypoint = {"/bin/sh", "-c"};
  r.spec.cmd = {"echo \"hi\" \\ caf\xc3\xa9 \xf0\x9f\x90\xb3\ttab", "x"};
  r.spec.labels = {{"com.example.tier", "front"}, {"empty", ""}};
  r.spec.network_mode = "bn1";
  r.spec.auto_remove = true;
  r.spec.healthcheck = image::Healthcheck{{"CMD-SHELL", "test -f /ok"}, 1000, 500, 0, 3};
  r.spec.binds = {BindMount{"/srv/data", "/data", true, "", false, "rslave"},
                  BindMount{"/var/lib/gctool/volumes/v/_data", "/v", false, "v", true, ""}};
  r.spec.tmpfs = {TmpfsMount{"/run", "size=64m"}};
  r.hostname = "host";
  r.state.status = Status::running;
  r.state.process = ProcessId{1234, 987654321012ULL};
  r.state.exit_code = 137;
  r.state.started_at = "2026-12-02T17:00:01Z";
  r.state.finished_at = "2026-12-02T16:00:01Z";
  r.state.error = "line\nbreak";
  r.owner = ProcessId{1200, 42};
  r.restart_count = 3;
  r.cgroup_path = "gctool/" + r.id;
  net::Attachment a;
  a.network = "bn1";
  a.container_id = r.id;
  a.ip = net::parse_ipv4("10.1.0.2");
  a.prefix = 24;
  a.gateway = net::parse_ipv4("10.1.0.1");
  a.ports = {net::PortMapping{std::nullopt, 18080, 80, net::Protocol::tcp}};
  r.network = a;
  return r;
}

}  // namespace

TEST_CASE("a listing reads what the full parse reads of the fields ps shows", "[state]") {
  const auto text = to_json(rich_record()).dump(2);
  const Record whole = record_from_json(nlohmann::json::parse(text));
  const Record brief = record_for_listing(text);
  CHECK(brief.id == whole.id);
  CHECK(brief.name == whole.name);
  CHECK(brief.spec.name == whole.spec.name);
  CHECK(brief.created == whole.created);
  CHECK(brief.spec.image_ref == whole.spec.image_ref);
  CHECK(brief.spec.image_id == whole.spec.image_id);
  CHECK(brief.args() == whole.args());
  CHECK(brief.spec.labels == whole.spec.labels);
  CHECK(brief.spec.network_mode == whole.spec.network_mode);
  CHECK(brief.spec.auto_remove == whole.spec.auto_remove);
  // ps shows the health status of a container that checks.
  REQUIRE(brief.spec.healthcheck);
  CHECK(brief.spec.healthcheck->test == whole.spec.healthcheck->test);
  CHECK(brief.spec.binds == whole.spec.binds);
  CHECK(brief.spec.binds.size() == 2);
  CHECK(brief.state.status == whole.state.status);
  CHECK(brief.state.process == whole.state.process);
  CHECK(brief.state.exit_code == whole.state.exit_code);
  CHECK(brief.state.started_at == whole.state.started_at);
  CHECK(brief.state.finished_at == whole.state.finished_at);
  CHECK(brief.state.error == whole.state.error);
  CHECK(brief.owner == whole.owner);
  CHECK(brief.restart_count == whole.restart_count);
  CHECK(brief.cgroup_path == whole.cgroup_path);
  REQUIRE(brief.network);
  CHECK(brief.network->ports == whole.network->ports);
  CHECK(brief.network->network == "bn1");
  // The compact form reads the same.
  CHECK(record_for_listing(to_json(rich_record()).dump()).args() == whole.args());
}

TEST_CASE("a listing refuses what only the full parse can judge", "[state]") {
  auto j = to_json(rich_record());
  SECTION("a truncated record") {
    const auto text = j.dump();
    CHECK_THROWS(record_for_listing(text.substr(0, text.size() / 2)));
  }
  SECTION("a field of another type") {
    j["State"]["Pid"] = "1234";
    CHECK_THROWS(record_for_listing(j.dump()));
  }
  SECTION("a missing section") {
    j.erase("HostConfig");
    CHECK_THROWS(record_for_listing(j.dump()));
  }
  SECTION("an unknown status") {
    j["State"]["Status"] = "sleeping";
    CHECK_THROWS(record_for_listing(j.dump()));
  }
  SECTION("text after the record") {
    CHECK_THROWS(record_for_listing(j.dump() + " x"));
  }
}

TEST_CASE("the scanner decodes escapes as JSON defines them", "[json]") {
  JsonScanner in(
      R"(["a\"b\\c\/d\n", "\u00e9\ud83d\udc33", -12, 18446744073709551615, true, null])");
  std::vector<std::string> strings;
  std::int64_t negative = 0;
  std::uint64_t big = 0;
  int element = 0;
  in.array([&] {
    switch (element++) {
      case 0:
      case 1:
        strings.push_back(in.string());
        break;
      case 2:
        negative = in.integer();
        break;
      case 3:
        big = in.unsigned_integer();
        break;
      case 4:
        CHECK(in.boolean());
        break;
      default:
        CHECK(in.null());
    }
  });
  in.end();
  CHECK(strings == std::vector<std::string>{"a\"b\\c/d\n", "\xc3\xa9\xf0\x9f\x90\xb3"});
  CHECK(negative == -12);
  CHECK(big == 18446744073709551615ULL);
  CHECK_THROWS_AS(JsonScanner("1.5").integer(), JsonScanError);
  CHECK_THROWS_AS(JsonScanner("\"\\ud83d\"").string(), JsonScanError);
  CHECK_THROWS_AS(JsonScanner("18446744073709551616").unsigned_integer(), JsonScanError);
}

TEST_CASE("the scanner reads escaped keys, also in nested objects", "[json]") {
  JsonScanner in(R"({"a\"b": {"x\n": 1, "y": [2, "\\"]}, "\u00e9": "v", "z": -1.5e3})");
  std::vector<std::string> keys;
  std::string value;
  in.object([&](std::string_view key) {
    keys.emplace_back(key);
    if (key == "\xc3\xa9") {
      value = in.string();
    } else {
      in.skip();
    }
  });
  in.end();
  CHECK(keys == std::vector<std::string>{"a\"b", "\xc3\xa9", "z"});
  CHECK(value == "v");
  CHECK_THROWS_AS(JsonScanner(R"({"a)").object([&](std::string_view) {}), JsonScanError);
}

TEST_CASE("a lookup by name reads the id and name, and refuses what is not a record", "[state]") {
  auto j = to_json(rich_record());
  const Record names = record_names(j.dump(2));
  CHECK(names.id == std::string(64, 'a'));
  CHECK(names.name == "web-1");
  CHECK(names.spec.name == "web-1");
  SECTION("a truncated record") {
    const auto text = j.dump();
    CHECK_THROWS(record_names(text.substr(0, text.size() - 2)));
  }
  SECTION("a missing section") {
    j.erase("Gctool");
    CHECK_THROWS(record_names(j.dump()));
  }
  SECTION("no name") {
    j.erase("Name");
    CHECK_THROWS(record_names(j.dump()));
  }
}
