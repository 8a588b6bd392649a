#include "gctool/cgroup/device_filter.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "gctool/core/error.hpp"

namespace gctool::cgroup {

namespace {

// Registers while the program runs: r1 the context (then scratch), r2 the device type, r3 the
// access asked for, r4 the major, r5 the minor number; r0 the verdict (1 allow, 0 deny).
constexpr std::uint8_t kCtx = 1, kScratch = 1, kType = 2, kAccess = 3, kMajor = 4, kMinor = 5;

bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
              std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn load_u32(std::uint8_t dst, std::int16_t offset) {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, kCtx, offset, 0);
}

std::int32_t access_bits(const std::string& access) {
  std::int32_t bits = 0;
  for (const char c : access) {
    bits |= c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  }
  return bits;
}

constexpr std::int32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

void verdict(std::vector<bpf_insn>& out, bool allow) {
  out.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, allow ? 1 : 0));
  out.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

// One exception: its tests jump past the block when the device does not match, else the block
// ends with the rule's verdict.
void append_rule(std::vector<bpf_insn>& out, const DeviceRule& rule) {
  std::vector<bpf_insn> block;
  std::vector<std::size_t> skips;  // jumps to the end of the block, patched below
  const auto skip_unless = [&](std::uint8_t jump, std::uint8_t reg, std::int32_t value) {
    skips.push_back(block.size());
    block.push_back(insn(BPF_JMP | jump | BPF_K, reg, 0, 0, value));
  };
  skip_unless(BPF_JNE, kType, rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
  const std::int32_t bits = access_bits(rule.access);
  if (rule.allow && bits != kAllAccess) {
    // Allow only when nothing outside the rule's access is asked for.
    block.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, kScratch, kAccess, 0, 0));
    block.push_back(insn(BPF_ALU | BPF_AND | BPF_K, kScratch, 0, 0, kAllAccess & ~bits));
    skip_unless(BPF_JNE, kScratch, 0);
  } else if (!rule.allow && bits != kAllAccess) {
    // Deny when any of the rule's access is asked for.
    block.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, kScratch, kAccess, 0, 0));
    block.push_back(insn(BPF_ALU | BPF_AND | BPF_K, kScratch, 0, 0, bits));
    skip_unless(BPF_JEQ, kScratch, 0);
  }
  if (rule.major != kAnyDevice) {
    skip_unless(BPF_JNE, kMajor, static_cast<std::int32_t>(rule.major));
  }
  if (rule.minor != kAnyDevice) {
    skip_unless(BPF_JNE, kMinor, static_cast<std::int32_t>(rule.minor));
  }
  verdict(block, rule.allow);
  for (const auto at : skips) {
    block[at].off = static_cast<std::int16_t>(block.size() - at - 1);
  }
  out.insert(out.end(), block.begin(), block.end());
}

long bpf(int cmd, bpf_attr& attr) {
  return ::syscall(SYS_bpf, cmd, &attr, sizeof attr);
}

std::uint64_t address(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}

// The last non-empty line of the verifier's log.
std::string last_line(const std::string& log) {
  const auto end = log.find_last_not_of("\n \0", std::string::npos, 3);
  if (end == std::string::npos) {
    return {};
  }
  const auto start = log.rfind('\n', end);
  return log.substr(start == std::string::npos ? 0 : start + 1,
                    end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

std::vector<bpf_insn> device_filter_program(std::span<const DeviceRule> rules) {
  for (const auto& rule : rules) {
    validate(rule);
  }
  std::vector<bpf_insn> out = {
      load_u32(kType, offsetof(bpf_cgroup_dev_ctx, access_type)),
      insn(BPF_ALU | BPF_AND | BPF_K, kType, 0, 0, 0xffff),
      load_u32(kAccess, offsetof(bpf_cgroup_dev_ctx, access_type)),
      insn(BPF_ALU | BPF_RSH | BPF_K, kAccess, 0, 0, 16),
      load_u32(kMajor, offsetof(bpf_cgroup_dev_ctx, major)),
      load_u32(kMinor, offsetof(bpf_cgroup_dev_ctx, minor)),
  };
  // The last 'a' rule sets the default and voids what came before it; the exceptions after it
  // are tested last first, so that a later rule overrides an earlier one.
  std::size_t first = 0;
  bool default_allow = true;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].type == 'a') {
      first = i + 1;
      default_allow = rules[i].allow;
    }
  }
  for (std::size_t i = rules.size(); i > first; --i) {
    append_rule(out, rules[i - 1]);
  }
  verdict(out, default_allow);
  return out;
}

UniqueFd load_device_filter(std::span<const bpf_insn> program) {
  static constexpr char kLicense[] = "Apache-2.0";
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = address(program.data());
  attr.insn_cnt = static_cast<std::uint32_t>(program.size());
  attr.license = address(kLicense);
  UniqueFd fd(static_cast<int>(bpf(BPF_PROG_LOAD, attr)));
  if (fd) {
    return fd;
  }
  const int err = errno;
  // Load again with the verifier's log, only to say why.
  std::string log(16384, '\0');
  attr.log_level = 1;
  attr.log_buf = address(log.data());
  attr.log_size = static_cast<std::uint32_t>(log.size());
  UniqueFd retry(static_cast<int>(bpf(BPF_PROG_LOAD, attr)));
  const auto why = last_line(log.c_str());
  throw Error(err, why.empty() ? std::string("load the device cgroup BPF program")
                               : fmt::format("load the device cgroup BPF program: {}", why));
}

void attach_device_filter(BorrowedFd cgroup_dir, std::span<const DeviceRule> rules) {
  const auto program = load_device_filter(device_filter_program(rules));
  std::array<std::uint32_t, 64> old_ids{};
  bpf_attr query{};
  query.query.target_fd = static_cast<std::uint32_t>(cgroup_dir.get());
  query.query.attach_type = BPF_CGROUP_DEVICE;
  query.query.prog_ids = address(old_ids.data());
  query.query.prog_cnt = old_ids.size();
  if (bpf(BPF_PROG_QUERY, query) != 0) {
    throw_errno("query the device cgroup programs");
  }
  bpf_attr attach{};
  attach.target_fd = static_cast<std::uint32_t>(cgroup_dir.get());
  attach.attach_bpf_fd = static_cast<std::uint32_t>(program.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, attach) != 0) {
    throw_errno("attach the device cgroup BPF program");
  }
  for (std::uint32_t i = 0; i < query.query.prog_cnt; ++i) {
    bpf_attr by_id{};
    by_id.prog_id = old_ids[i];
    const UniqueFd old(static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, by_id)));
    if (!old) {
      continue;  // detached meanwhile
    }
    bpf_attr detach{};
    detach.target_fd = static_cast<std::uint32_t>(cgroup_dir.get());
    detach.attach_bpf_fd = static_cast<std::uint32_t>(old.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, detach) != 0 && errno != ENOENT) {
      throw_errno("detach an old device cgroup BPF program");
    }
  }
}

}  // namespace gctool::cgroup
