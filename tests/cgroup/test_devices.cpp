// Device rules: Docker's defaults, their cgroup v1 text, and the cgroup v2 BPF program built from
// them, run here by a small interpreter of the instructions it uses so that every decision can
// be checked without the kernel (the real program is loaded and attached in test_real.cpp).
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "gctool/cgroup/device_filter.hpp"
#include "gctool/cgroup/devices.hpp"
#include "gctool/core/error.hpp"

using namespace gctool::cgroup;

namespace {

// The verdict of `program` for one access, as the kernel would compute it (0 deny, 1 allow).
// Fails the test on an instruction outside the subset the builder emits.
int run_program(const std::vector<bpf_insn>& program, char type, std::uint32_t major,
                std::uint32_t minor, const std::string& access) {
  std::uint32_t bits = 0;
  for (const char c : access) {
    bits |= c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  }
  const bpf_cgroup_dev_ctx ctx{
      (bits << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), major, minor};
  std::array<std::uint64_t, 11> reg{};
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const auto& i = program[pc];
    auto& dst = reg[i.dst_reg];
    switch (i.code) {
      case BPF_LDX | BPF_W | BPF_MEM:
        REQUIRE(i.src_reg == 1);
        REQUIRE(i.off % 4 == 0);
        REQUIRE(static_cast<std::size_t>(i.off) < sizeof ctx);
        dst = reinterpret_cast<const std::uint32_t*>(&ctx)[i.off / 4];
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        dst = static_cast<std::uint32_t>(dst) & static_cast<std::uint32_t>(i.imm);
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        dst = static_cast<std::uint32_t>(dst) >> i.imm;
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X:
        dst = reg[i.src_reg];
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        dst = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        pc += dst != static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm)) ? i.off : 0;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += dst == static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm)) ? i.off : 0;
        break;
      case BPF_JMP | BPF_EXIT:
        return static_cast<int>(reg[0]);
      default:
        FAIL("unexpected instruction code " << int(i.code));
    }
  }
  FAIL("the program ran off its end");
  return -1;
}

}  // namespace

TEST_CASE("Docker's default device rules in the cgroup v1 format", "[cgroup][devices]") {
  std::vector<std::string> lines;
  for (const auto& rule : default_device_rules()) {
    lines.push_back((rule.allow ? "allow " : "deny ") + to_string(rule));
  }
  CHECK(lines == std::vector<std::string>{
                     "deny a", "allow c *:* m", "allow b *:* m", "allow c 1:3 rwm",
                     "allow c 1:5 rwm", "allow c 1:7 rwm", "allow c 1:8 rwm", "allow c 1:9 rwm",
                     "allow c 5:0 rwm", "allow c 5:1 rwm", "allow c 5:2 rwm", "allow c 136:* rwm"});
  CHECK(all_device_rules().size() == 1);
  CHECK(to_string(all_device_rules().front()) == "a");
}

TEST_CASE("invalid device rules are refused", "[cgroup][devices]") {
  CHECK_THROWS_WITH(validate(DeviceRule{.type = 'x'}), "invalid device cgroup rule \"x *:* rwm\"");
  CHECK_THROWS_AS(validate(DeviceRule{.type = 'c', .access = ""}), gctool::Error);
  CHECK_THROWS_AS(validate(DeviceRule{.type = 'c', .access = "rwx"}), gctool::Error);
  CHECK_THROWS_AS(validate(DeviceRule{.type = 'c', .major = -2}), gctool::Error);
  CHECK_THROWS_AS(device_filter_program(std::vector{DeviceRule{.type = 'u'}}), gctool::Error);
}

TEST_CASE("the BPF program of the default rules decides as cgroup v1 would", "[cgroup][devices]") {
  const auto program = device_filter_program(default_device_rules());
  // The standard nodes and the pseudo-terminals are usable.
  for (const auto& [major, minor] : std::vector<std::pair<int, int>>{
           {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, 0}, {136, 77}}) {
    INFO(major << ":" << minor);
    CHECK(run_program(program, 'c', major, minor, "rw") == 1);
    CHECK(run_program(program, 'c', major, minor, "r") == 1);
    CHECK(run_program(program, 'c', major, minor, "m") == 1);
  }
  // Any node may be made, none of the host's others opened: fuse, kmsg, loop, tun, a disk.
  CHECK(run_program(program, 'c', 10, 229, "m") == 1);
  CHECK(run_program(program, 'c', 10, 229, "rw") == 0);
  CHECK(run_program(program, 'c', 10, 229, "r") == 0);
  CHECK(run_program(program, 'c', 1, 11, "w") == 0);
  CHECK(run_program(program, 'c', 10, 237, "rw") == 0);
  CHECK(run_program(program, 'c', 10, 200, "rw") == 0);
  CHECK(run_program(program, 'b', 8, 0, "m") == 1);
  CHECK(run_program(program, 'b', 8, 0, "r") == 0);
  CHECK(run_program(program, 'b', 1, 3, "rw") == 0);  // null's numbers, but a block device
}

TEST_CASE("the BPF program honours partial access, later rules and resets", "[cgroup][devices]") {
  const std::vector<DeviceRule> rules = {
      DeviceRule{.allow = false},
      DeviceRule{.type = 'c', .major = 10, .minor = 229, .access = "r"},
      DeviceRule{.type = 'c', .major = 1, .minor = kAnyDevice},
      DeviceRule{.allow = false, .type = 'c', .major = 1, .minor = 11, .access = "w"},
  };
  const auto program = device_filter_program(rules);
  CHECK(run_program(program, 'c', 10, 229, "r") == 1);
  CHECK(run_program(program, 'c', 10, 229, "rw") == 0);
  CHECK(run_program(program, 'c', 1, 11, "r") == 1);
  CHECK(run_program(program, 'c', 1, 11, "w") == 0);
  CHECK(run_program(program, 'c', 1, 11, "rw") == 0);
  CHECK(run_program(program, 'c', 1, 3, "rwm") == 1);
  CHECK(run_program(program, 'c', 2, 3, "r") == 0);

  // An 'a' rule voids what came before it.
  auto reset = rules;
  reset.push_back(DeviceRule{});
  CHECK(run_program(device_filter_program(reset), 'b', 8, 0, "rw") == 1);
  CHECK(run_program(device_filter_program(all_device_rules()), 'c', 10, 229, "rw") == 1);
  // No rules at all: the kernel's default, everything.
  CHECK(run_program(device_filter_program({}), 'c', 1, 11, "w") == 1);
}
