// One damaged container record never takes the root down: every verb skips it with one warning
// line and works on the other containers, and `rm -f` removes it (by id, id prefix, or the name
// when the readable part of the file still holds it), with what it ran.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "container_support.hpp"
#include "gctool/container/store.hpp"
#include "gctool/core/proc.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Cuts the file at `size` bytes, as a crash of a non-atomic writer or a bad disk would.
void truncate_to(const fs::path& path, std::size_t size) {
  REQUIRE(fs::file_size(path) > size);
  fs::resize_file(path, size);
}

std::size_t lines_with(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

std::string full_id(const TestRoot& root, const std::string& name) {
  const auto info = root.inspect(name);
  REQUIRE(!info.is_null());
  return info["Id"].get<std::string>();
}

}  // namespace

TEST_CASE("a store skips a broken record, reports it once and still resolves it", "[store]") {
  TempDir dir("gct-store");
  std::vector<std::string> reported;
  const container::ContainerStore store(
      dir.path(), [&](const container::BrokenRecord& b) { reported.push_back(b.id); });
  const auto lock = store.lock();
  container::Record good;
  good.id = std::string(64, 'a');
  good.name = "good";
  good.created = "2026-01-01T00:00:00Z";
  container::Record bad = good;
  bad.id = std::string(64, 'b');
  bad.name = "bad";
  bad.owner = {::getpid(), process_start_time(::getpid()).value()};
  store.create(good, Durability::fast);
  store.create(bad, Durability::fast);
  const auto text = read_text(store.config_path(bad.id));
  // Keys are written in order: cut inside "State", after Gctool.Owner and Name.
  truncate_to(store.config_path(bad.id), text.find("\"State\"") + 12);

  const auto records = store.list();
  REQUIRE(records.size() == 1);
  CHECK(records.front().name == "good");
  CHECK(store.list().size() == 1);
  CHECK(reported == std::vector<std::string>{bad.id});
  CHECK(store.resolve("bad") == bad.id);
  CHECK(store.resolve("bbbb") == bad.id);
  CHECK_THROWS_WITH(store.load(bad.id), Catch::Contains("corrupt"));
  const auto broken = store.load_broken(bad.id);
  REQUIRE(broken);
  CHECK(broken->identity.name == "bad");
  CHECK(broken->identity.owner == bad.owner);
  CHECK(broken->error.find(store.config_path(bad.id).string()) != std::string::npos);
  CHECK_FALSE(store.load_broken(good.id));
  // The name stays taken while the broken record is there.
  container::Record again = good;
  again.id = std::string(64, 'c');
  again.name = "bad";
  CHECK_THROWS_WITH(store.create(again, Durability::fast), Catch::Contains("already in use"));

  // Cut before the name: found by id only, nothing salvaged.
  truncate_to(store.config_path(bad.id), 10);
  CHECK_THROWS_WITH(store.resolve("bad"), "no such container: bad");
  const auto anonymous = store.load_broken(bad.id);
  REQUIRE(anonymous);
  CHECK(anonymous->identity.name.empty());
  CHECK(anonymous->identity.owner == container::ProcessId{});
  // A record copied into another container's directory is not that container.
  fs::copy_file(store.config_path(good.id), store.config_path(bad.id),
                fs::copy_options::overwrite_existing);
  CHECK(store.load_broken(bad.id));
}

TEST_CASE("a store reads records of any size in every detail and finds them by name", "[store]") {
  TempDir dir("gct-store");
  std::vector<std::string> reported;
  const container::ContainerStore store(
      dir.path(), [&](const container::BrokenRecord& b) { reported.push_back(b.id); });
  const auto lock = store.lock();
  container::Record big;
  big.id = std::string(64, 'd');
  big.name = "big";
  big.created = "2026-01-01T00:00:00Z";
  big.spec.network_mode = "none";
  // Larger than the one read a listing gives a record.
  big.spec.labels["long"] = std::string(40000, 'x');
  container::Record small = big;
  small.id = std::string(64, 'e');
  small.name = "small";
  small.spec.labels.clear();
  store.create(big, Durability::fast);
  store.create(small, Durability::fast);
  using Detail = container::ContainerStore::Detail;
  for (const auto detail : {Detail::whole, Detail::listing, Detail::names}) {
    const auto listing = store.scan(detail);
    REQUIRE(listing.records.size() == 2);
    const auto found = std::find_if(listing.records.begin(), listing.records.end(),
                                    [](const auto& r) { return r.name == "big"; });
    REQUIRE(found != listing.records.end());
    CHECK(found->id == big.id);
    if (detail != Detail::names) {
      CHECK(found->spec.labels.at("long") == big.spec.labels.at("long"));
    }
  }
  CHECK(reported.empty());
  CHECK(store.resolve("big") == big.id);
  CHECK(store.resolve("/small") == small.id);
  CHECK(store.resolve("dddd") == big.id);
  // A record whose name is in use, also found by a lookup reading names only.
  container::Record again = small;
  again.id = std::string(64, 'f');
  CHECK_THROWS_WITH(store.create(again, Durability::fast), Catch::Contains("already in use"));
}

TEST_CASE("a truncated record is skipped by every verb and removed by rm -f", "[root]") {
  TestRoot root;
  // The one that will be damaged runs, with a supervisor, a log and a cgroup.
  const auto broken = run_detached(root, {"sh", "-c", "echo from-broken; exec sleep 1000"});
  const auto other = run_detached(root, {"sh", "-c", "echo from-other; exec sleep 1000"});
  const auto broken_id = full_id(root, broken);
  const auto info = wait_running(root, broken);
  REQUIRE(!info.is_null());
  const container::ProcessId init{info["State"]["Pid"].get<pid_t>(),
                                  info["State"]["PidStartTime"].get<std::uint64_t>()};
  const container::ProcessId owner{info["Gctool"]["Owner"]["Pid"].get<pid_t>(),
                                   info["Gctool"]["Owner"]["StartTime"].get<std::uint64_t>()};
  REQUIRE(wait_running(root, other) != nullptr);
  const auto config = fs::path(root.root()) / "containers" / broken_id / "config.json";
  const auto text = read_text(config);
  truncate_to(config, text.find("\"State\"") + 12);

  SECTION("the other containers work, with one warning line per command") {
    const auto ps = root.run({"ps", "-a"});
    INFO(ps.err);
    CHECK(ps.exit_code == 0);
    CHECK(ps.out.find(other) != std::string::npos);
    CHECK(ps.out.find(broken) == std::string::npos);
    CHECK(lines_with(ps.err, "\n") == 1);
    CHECK(ps.err.find("warning") != std::string::npos);
    CHECK(ps.err.find(broken_id.substr(0, 12)) != std::string::npos);

    const auto logs = root.run({"logs", other});
    CHECK(logs.exit_code == 0);
    CHECK(logs.out == "from-other\n");
    const auto exec = root.run({"exec", other, "echo", "in-other"});
    INFO(exec.err);
    CHECK(exec.exit_code == 0);
    CHECK(exec.out == "in-other\n");
    CHECK(root.inspect(other)["State"]["Running"] == true);
    const auto run = root.run({"run", "--rm", "--network", "none", "busybox", "echo", "new"});
    INFO(run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out == "new\n");
    const auto detached = run_detached(root, {"sleep", "1000"});
    const auto stop = root.run({"stop", "-t", "1", other});
    INFO(stop.err);
    CHECK(stop.exit_code == 0);
    CHECK(root.inspect(other)["State"]["Status"] == "exited");
    const auto start = root.run({"start", other});
    INFO(start.err);
    CHECK(start.exit_code == 0);
    CHECK(wait_running(root, other) != nullptr);
    const auto kill = root.run({"kill", other});
    CHECK(kill.exit_code == 0);
    const auto rm = root.run({"rm", "-f", other, detached});
    INFO(rm.err);
    CHECK(rm.exit_code == 0);
    CHECK(lines_with(rm.err, "\n") <= 1);
    // The broken container's log is still readable by its id.
    const auto broken_logs = root.run({"logs", broken_id});
    CHECK(broken_logs.exit_code == 0);
    CHECK(broken_logs.out == "from-broken\n");
  }

  SECTION("rm needs -f, then removes it by name with its processes") {
    const auto rm = root.run({"rm", broken});
    CHECK(rm.exit_code != 0);
    CHECK(rm.err.find("-f") != std::string::npos);
    CHECK(process_matches(init.pid, init.start_time));
    const auto forced = root.run({"rm", "-f", broken});
    INFO(forced.err);
    CHECK(forced.exit_code == 0);
    CHECK(wait_until([&] { return !process_matches(init.pid, init.start_time); }, 10s));
    CHECK(wait_until([&] { return !process_matches(owner.pid, owner.start_time); }, 10s));
    CHECK_FALSE(fs::exists(config.parent_path()));
    remove(root, other);
  }

  SECTION("with nothing salvaged, rm -f removes it by id prefix") {
    truncate_to(config, 1);
    // Its name is lost with the record: as Docker's `rm -f` of a name that does not exist, this
    // succeeds silently and removes nothing.
    const auto by_name = root.run({"rm", "-f", broken});
    CHECK(by_name.exit_code == 0);
    CHECK(process_matches(init.pid, init.start_time));
    const auto forced = root.run({"rm", "-f", broken_id.substr(0, 12)});
    INFO(forced.err);
    CHECK(forced.exit_code == 0);
    CHECK(wait_until([&] { return !process_matches(init.pid, init.start_time); }, 10s));
    CHECK_FALSE(fs::exists(config.parent_path()));
    remove(root, other);
  }

  // Whatever the section did, the broken one goes too (its owner ends with its container).
  root.run({"rm", "-f", broken_id});
  CHECK(wait_until([&] { return !process_matches(owner.pid, owner.start_time); }, 10s));
  CHECK(root.leaks().empty());
}

TEST_CASE("a record that is not JSON at all does not stop ps, run or rm -f", "[root]") {
  TestRoot root;
  const auto name = unique_name("ok");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "busybox", "true"}).exit_code == 0);
  const std::string garbage(64, 'e');
  fs::create_directories(fs::path(root.root()) / "containers" / garbage);
  {
    std::ofstream out(fs::path(root.root()) / "containers" / garbage / "config.json");
    out << "\x01\x02 not json";
  }
  const auto ps = root.run({"ps", "-a", "-q"});
  CHECK(ps.exit_code == 0);
  CHECK(lines_with(ps.out, "\n") == 1);
  CHECK(root.run({"rm", name}).exit_code == 0);
  const auto rm = root.run({"rm", "-f", garbage});
  INFO(rm.err);
  CHECK(rm.exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("the owner of a container never brings back a store removed under it", "[store]") {
  TempDir dir("gct-store");
  const auto root = dir.path() / "root";
  const container::ContainerStore store(root);
  { const auto lock = store.lock(); }
  CHECK(store.lock_if_present());
  fs::remove_all(root);
  // A supervisor saving its container's exit after the whole root went (rm -rf of a test root).
  CHECK_FALSE(store.lock_if_present());
  CHECK_FALSE(fs::exists(root));
}
