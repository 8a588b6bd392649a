// The IPAM pool against reality: with a container running, its network's pool files are damaged
// (truncated, overwritten with garbage, or rolled back to an older copy). The live endpoints are
// the truth: `run --ip` of the address the running container holds is refused with 125, a new
// container gets another address, `ps -a` works, and once everything is removed no address is
// left allocated.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "container_support.hpp"
#include "gctool/net/ipam_store.hpp"
#include "gctool/net/network.hpp"

using namespace gctool;
using namespace gctool::test;
namespace fs = std::filesystem;

namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::string address_of(const TestRoot& root, const std::string& name, const std::string& network) {
  const auto info = root.inspect(name);
  REQUIRE_FALSE(info.is_null());
  return info["NetworkSettings"]["Networks"][network]["IPAddress"].get<std::string>();
}

// Runs a detached container on the network; its address.
std::string start_sleeper(const TestRoot& root, const std::string& name,
                          const std::string& network) {
  const auto r =
      root.run({"run", "-d", "--name", name, "--network", network, "busybox", "sleep", "1000"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return address_of(root, name, network);
}

std::size_t allocations(const TestRoot& root, const std::string& network) {
  const auto n = net::find_network(root.root(), network);
  return net::IpamStore(root.root(), n.name, n.subnet, n.gateway).count();
}

void overwrite(const fs::path& file, std::size_t at, const std::string& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string garbage(std::size_t size) {
  static std::mt19937 rng{std::random_device{}()};
  std::string bytes(size, '\0');
  for (auto& c : bytes) {
    c = static_cast<char>(rng());
  }
  return bytes;
}

}  // namespace

TEST_CASE("a damaged or rolled-back IPAM pool is rebuilt from the live containers", "[root]") {
  if (!is_root()) {
    return;
  }
  TestRoot root;
  static std::mt19937 rng{std::random_device{}()};
  const std::string prefix = fmt::format("10.{}.{}", 16 + rng() % 200, rng() % 250);
  const std::string network = unique_name("gn");
  REQUIRE(root.run({"network", "create", "--subnet", prefix + ".0/24", network}).exit_code == 0);
  const fs::path ipam = fs::path(root.root()) / "ipam";
  const fs::path snapshot = ipam / (network + ".snapshot");
  const fs::path journal = ipam / (network + ".journal");

  // A first container, gone again: the pool's files exist, with records in the journal.
  REQUIRE(root.run({"run", "--rm", "--network", network, "busybox", "true"}).exit_code == 0);
  REQUIRE(fs::exists(snapshot));
  REQUIRE(fs::exists(journal));
  const TempDir old;
  fs::copy_file(snapshot, old.path() / "snapshot");
  fs::copy_file(journal, old.path() / "journal");

  const std::string live = unique_name("live");
  const auto held = start_sleeper(root, live, network);
  REQUIRE(held.rfind(prefix + ".", 0) == 0);

  SECTION("the journal rolled back to an older copy") {
    fs::copy_file(old.path() / "journal", journal, fs::copy_options::overwrite_existing);
    fs::copy_file(old.path() / "snapshot", snapshot, fs::copy_options::overwrite_existing);
  }
  SECTION("the snapshot truncated") {
    fs::resize_file(snapshot, fs::file_size(snapshot) / 2);
  }
  SECTION("garbage over the snapshot") {
    overwrite(snapshot, 0, garbage(fs::file_size(snapshot)));
  }
  SECTION("garbage over the journal's head") {
    overwrite(journal, 0, garbage(64));
  }

  // The running container's address, asked for explicitly: refused, nothing created.
  const std::string thief = unique_name("thief");
  const auto refused = root.run({"run", "-d", "--name", thief, "--network", network, "--ip", held,
                                 "busybox", "sleep", "1000"});
  CHECK(refused.exit_code == 125);
  CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
  CHECK_THAT(refused.err, Catch::Contains("already in use"));
  CHECK(root.inspect(thief).is_null());

  // A new container gets another address.
  const std::string next = unique_name("next");
  const auto other = start_sleeper(root, next, network);
  CHECK(other != held);
  CHECK(other.rfind(prefix + ".", 0) == 0);

  const auto ps = root.run({"ps", "-a"});
  INFO(ps.err);
  CHECK(ps.exit_code == 0);
  CHECK_THAT(ps.out, Catch::Contains(live));
  CHECK_THAT(ps.out, Catch::Contains(next));
  CHECK(allocations(root, network) == 2);
  CHECK(address_of(root, live, network) == held);

  CHECK(root.run({"rm", "-f", live, next}).exit_code == 0);
  CHECK(root.run({"ps", "-a"}).exit_code == 0);
  CHECK(allocations(root, network) == 0);
  CHECK(trimmed(root.run({"ps", "-aq"}).out).empty());
  CHECK(root.run({"network", "rm", network}).exit_code == 0);
  CHECK(root.leaks().empty());
}
