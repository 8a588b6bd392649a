// Validation of Resources and the unit conversions, before any cgroup exists.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "fake_tree.hpp"
#include "gctool/cgroup/resources.hpp"
#include "gctool/core/error.hpp"
#include "test_support.hpp"

using namespace gctool::cgroup;

namespace {

// A host with CPUs 0-1 and memory node 0.
struct FakeHost {
  gctool::test::TempDir tmp{"cg-host"};
  HostTopology host{tmp.path() / "cpu-online", tmp.path() / "node-online"};
  FakeHost() {
    gctool::cgroup::test::put(host.online_cpus, "0-1\n");
    gctool::cgroup::test::put(host.online_mems, "0\n");
  }
};

}  // namespace

TEST_CASE("conversions match Docker and runc", "[cgroup][resources]") {
  CHECK(cpu_quota_us(200000000) == 20000);
  CHECK(cpu_quota_us(1500000000) == 150000);
  CHECK(cpu_weight_from_shares(2) == 1);
  CHECK(cpu_weight_from_shares(1024) == 39);
  CHECK(cpu_weight_from_shares(262144) == 10000);
}

TEST_CASE("valid resources pass", "[cgroup][resources]") {
  FakeHost fake;
  Resources r;
  validate(r, fake.host);
  r.memory_bytes = 6 << 20;
  r.nano_cpus = 2000000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "0-1";
  r.cpuset_mems = "0";
  r.pids_limit = 1;
  validate(r, fake.host);
}

TEST_CASE("invalid resources fail with one clear line", "[cgroup][resources]") {
  FakeHost fake;
  const auto fails_with = [&](Resources r, const std::string& message) {
    try {
      validate(r, fake.host);
      FAIL("accepted: " << message);
    } catch (const gctool::Error& e) {
      CHECK(std::string(e.what()) == message);
      CHECK(e.errno_value() == EINVAL);
    }
  };
  fails_with(Resources{.memory_bytes = (6 << 20) - 1}, "minimum memory limit allowed is 6MB");
  fails_with(Resources{.nano_cpus = 0},
             "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  fails_with(Resources{.nano_cpus = -1000000000},
             "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  fails_with(Resources{.nano_cpus = 3000000000},
             "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  fails_with(Resources{.cpu_shares = 1}, "CPU shares 1 out of range: must be between 2 and 262144");
  fails_with(Resources{.cpuset_cpus = "0-3"},
             "requested CPUs are not available - requested 0-3, available: 0-1");
  fails_with(Resources{.cpuset_cpus = "1-a"},
             "invalid CPU list \"1-a\": \"a\" is not a CPU number");
  fails_with(Resources{.cpuset_cpus = "3-1"},
             "invalid CPU list \"3-1\": range \"3-1\" is reversed");
  fails_with(Resources{.cpuset_cpus = ""}, "invalid CPUs \"\": the list is empty");
  fails_with(Resources{.cpuset_mems = "x"},
             "memory nodes: invalid CPU list \"x\": \"x\" is not a CPU number");
  fails_with(Resources{.cpuset_mems = "1"},
             "requested memory nodes are not available - requested 1, available: 0");
  fails_with(Resources{.pids_limit = 0}, "invalid pids limit 0: must be at least 1");
  fails_with(Resources{.memory_swappiness = 101},
             "invalid value: 101, valid memory swappiness range is 0-100");
  fails_with(Resources{.memory_swappiness = -2},
             "invalid value: -2, valid memory swappiness range is 0-100");
  validate(Resources{.memory_swappiness = 0}, fake.host);
  validate(Resources{.memory_swappiness = 100}, fake.host);
}

TEST_CASE("device throttle values are parsed and resolved as Docker's", "[cgroup][resources]") {
  // A block device of this machine, by its /dev path.
  std::filesystem::path block;
  for (const auto& entry : std::filesystem::directory_iterator("/dev")) {
    if (entry.is_block_file()) {
      block = entry.path();
      break;
    }
  }
  REQUIRE(!block.empty());
  struct stat st {};
  REQUIRE(::stat(block.c_str(), &st) == 0);
  const auto bps = parse_throttle_device("--device-read-bps", block.string() + ":1mb", false);
  CHECK(bps.path == block.string());
  CHECK(bps.rate == 1048576);
  CHECK(bps.major == static_cast<std::int64_t>(major(st.st_rdev)));
  CHECK(bps.minor == static_cast<std::int64_t>(minor(st.st_rdev)));
  CHECK(device_number(bps) == fmt::format("{}:{}", major(st.st_rdev), minor(st.st_rdev)));
  CHECK(parse_throttle_device("--device-write-bps", block.string() + ":512k", false).rate ==
        524288);
  CHECK(parse_throttle_device("--device-read-iops", block.string() + ":300", true).rate == 300);
  CHECK(parse_throttle_device("--device-read-bps", block.string() + ":0", false).rate == 0);

  const auto fails_with = [](const std::string& value, bool iops, const std::string& message) {
    try {
      parse_throttle_device(iops ? "--device-read-iops" : "--device-read-bps", value, iops);
      FAIL("accepted: " << value);
    } catch (const gctool::Error& e) {
      CHECK(std::string(e.what()) == message);
      CHECK(e.errno_value() == EINVAL);
    }
  };
  fails_with("/dev/sda", false,
             "invalid argument \"/dev/sda\" for \"--device-read-bps\" flag: bad format: /dev/sda");
  fails_with("sda:1mb", false,
             "invalid argument \"sda:1mb\" for \"--device-read-bps\" flag: bad format for "
             "device path: sda:1mb");
  fails_with(block.string() + ":lots", false,
             fmt::format("invalid argument \"{0}:lots\" for \"--device-read-bps\" flag: invalid "
                         "rate for device: {0}:lots. The correct format is "
                         "<device-path>:<number>[<unit>]. Number must be a positive integer. "
                         "Unit is optional and can be kb, mb, or gb",
                         block.string()));
  fails_with(block.string() + ":-1", false,
             fmt::format("invalid argument \"{0}:-1\" for \"--device-read-bps\" flag: invalid "
                         "rate for device: {0}:-1. The correct format is "
                         "<device-path>:<number>[<unit>]. Number must be a positive integer. "
                         "Unit is optional and can be kb, mb, or gb",
                         block.string()));
  fails_with(block.string() + ":1mb", true,
             fmt::format("invalid argument \"{0}:1mb\" for \"--device-read-iops\" flag: invalid "
                         "rate for device: {0}:1mb. The correct format is "
                         "<device-path>:<number>. Number must be a positive integer",
                         block.string()));
  fails_with("/dev/nosuch-gctool:1mb", false,
             "invalid argument \"/dev/nosuch-gctool:1mb\" for \"--device-read-bps\" flag: "
             "/dev/nosuch-gctool: No such file or directory");
  fails_with("/dev/null:1mb", false,
             "invalid argument \"/dev/null:1mb\" for \"--device-read-bps\" flag: /dev/null is "
             "not a block device");
  // A record whose device is gone: refused when the limit is written.
  CHECK_THROWS_WITH(device_number(ThrottleDevice{"/dev/gone"}), "/dev/gone: no such block device");
}
