#include "gctool/sys/seccomp.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <fmt/std.h>

#include "gctool/core/atomic_file.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool::sys {
namespace {

// Bump when the cache file layout or the way profiles compile changes.
constexpr std::string_view kCacheFormat = "gctool-seccomp-cache 3";
// The file: the magic, the key text's length and the key text, then the program.
constexpr char kCacheMagic[8] = {'G', 'C', 'T', 'B', 'P', 'F', '0', '2'};
constexpr std::size_t kHeaderSize = sizeof kCacheMagic + sizeof(std::uint64_t);
constexpr std::size_t kMaxInstructions = BPF_MAXINSNS;

class FilterContext {
 public:
  explicit FilterContext(std::uint32_t default_action) : ctx_(seccomp_init(default_action)) {
    if (ctx_ == nullptr) {
      throw Error(EINVAL, fmt::format("seccomp_init with default action {:#x}", default_action));
    }
    // A balanced tree of syscall numbers: a few comparisons per call rather than one per rule.
    if (const int rc = seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
      seccomp_release(ctx_);
      throw Error(-rc, "seccomp_attr_set SCMP_FLTATR_CTL_OPTIMIZE");
    }
  }
  FilterContext(const FilterContext&) = delete;
  FilterContext& operator=(const FilterContext&) = delete;
  ~FilterContext() {
    if (ctx_ != nullptr) {
      seccomp_release(ctx_);
    }
  }
  scmp_filter_ctx get() const noexcept { return ctx_; }

  // Moves the architectures of `other` (none of them ours) into this context.
  void merge(FilterContext& other) {
    check_neg(seccomp_merge(ctx_, other.ctx_), "seccomp_merge");
    other.ctx_ = nullptr;  // libseccomp released it
  }

 private:
  scmp_filter_ctx ctx_;
};

// Calls newer than Debian's libseccomp (2.5.4 knows Linux 5.17), numbered for the native
// architecture: from 424 on the numbers are the same on x86-64, x86 and arm64. Used only when
// libseccomp cannot resolve the name.
struct NewSyscall {
  std::string_view name;
  int nr;
};
constexpr NewSyscall kNewSyscalls[] = {
    {"cachestat", 451},         {"fchmodat2", 452},        {"map_shadow_stack", 453},
    {"futex_wake", 454},        {"futex_wait", 455},       {"futex_requeue", 456},
    {"statmount", 457},         {"listmount", 458},        {"lsm_get_self_attr", 459},
    {"lsm_set_self_attr", 460}, {"lsm_list_modules", 461}, {"mseal", 462},
    {"setxattrat", 463},        {"getxattrat", 464},       {"listxattrat", 465},
    {"removexattrat", 466},     {"open_tree_attr", 467},   {"file_getattr", 468},
    {"file_setattr", 469},
#if defined(__x86_64__)
    {"uretprobe", 335},
#endif
};

std::optional<int> new_syscall_number(std::string_view name) {
  for (const auto& call : kNewSyscalls) {
    if (call.name == name) {
      return call.nr;
    }
  }
  return std::nullopt;
}

bool has_repeated_index(const std::vector<SeccompArg>& args) {
  unsigned seen = 0;
  for (const auto& arg : args) {
    if ((seen & (1U << arg.index)) != 0) {
      return true;
    }
    seen |= 1U << arg.index;
  }
  return false;
}

scmp_arg_cmp to_scmp(const SeccompArg& arg) {
  return scmp_arg_cmp{arg.index, static_cast<scmp_compare>(arg.op), arg.value, arg.value_two};
}

void add_rule(const FilterContext& ctx, const SeccompRule& rule, const std::string& name, int nr) {
  const auto add = [&](unsigned count, const scmp_arg_cmp* conditions) {
    check_neg(seccomp_rule_add_array(ctx.get(), rule.action, nr, count, conditions),
              "seccomp rule for \"{}\" (action {:#x})", name, rule.action);
  };
  if (has_repeated_index(rule.args)) {
    for (const auto& arg : rule.args) {
      const auto condition = to_scmp(arg);
      add(1, &condition);
    }
    return;
  }
  std::vector<scmp_arg_cmp> conditions;
  for (const auto& arg : rule.args) {
    conditions.push_back(to_scmp(arg));
  }
  add(static_cast<unsigned>(conditions.size()), conditions.data());
}

std::vector<sock_filter> export_bpf(const FilterContext& ctx) {
  UniqueFd memfd(check(::memfd_create("gctool-seccomp", MFD_CLOEXEC), "memfd_create"));
  check_neg(seccomp_export_bpf(ctx.get(), memfd.get()), "seccomp_export_bpf");
  const off_t size = check(::lseek(memfd.get(), 0, SEEK_END), "lseek seccomp memfd");
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    throw Error(EINVAL, fmt::format("seccomp_export_bpf produced {} bytes", size));
  }
  std::vector<sock_filter> filter(static_cast<std::size_t>(size) / sizeof(sock_filter));
  const ssize_t n = ::pread(memfd.get(), filter.data(), static_cast<std::size_t>(size), 0);
  if (n != size) {
    throw Error(n < 0 ? errno : EIO, "read seccomp memfd");
  }
  if (filter.size() > kMaxInstructions) {
    throw Error(E2BIG, fmt::format("seccomp filter has {} instructions (the kernel takes {})",
                                   filter.size(), kMaxInstructions));
  }
  return filter;
}

// FNV-1a of the key text names the file; a hit needs the whole key text stored in the file, so
// a profile crafted to collide with another one's name only replaces that file.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// Everything the compiled program depends on: the format, libseccomp, the native architecture
// (the others are named by the profile) and the profile.
std::string cache_key_text(const SeccompProfile& profile) {
  const scmp_version* version = seccomp_version();
  return fmt::format("{}\nlibseccomp {}.{}.{}\nnative {:#x}\n{}", kCacheFormat, version->major,
                     version->minor, version->micro, seccomp_arch_native(),
                     canonical_text(profile));
}

std::string cache_file_name(std::string_view key_text) {
  return fmt::format("{:016x}.bpf", fnv1a(key_text));
}

// Only root's own directories and files are trusted: a cache that anyone else could have written
// is not read (nor written to).
bool trusted(const struct stat& st) {
  return st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// The cache directory, created 0700 when missing; none when it is not root's own.
UniqueFd open_cache_dir(const std::filesystem::path& cache_dir) {
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd dir(::open(cache_dir.c_str(), kFlags));
  if (!dir && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::create_directories(cache_dir.parent_path(), ec);
    if (::mkdir(cache_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      throw_errno("create seccomp cache directory {}", cache_dir);
    }
    dir = UniqueFd(::open(cache_dir.c_str(), kFlags));
  }
  if (!dir) {
    throw_errno("open seccomp cache directory {}", cache_dir);
  }
  struct stat st {};
  check(::fstat(dir.get(), &st), "stat seccomp cache directory {}", cache_dir);
  return trusted(st) ? std::move(dir) : UniqueFd();
}

// The cached program, or nothing when the file is missing, not root's own, short, or for
// another key.
std::optional<SeccompProgram> read_cache(BorrowedFd dir, const std::string& name,
                                         std::string_view key_text) {
  UniqueFd fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ELOOP) {
      return std::nullopt;
    }
    throw_errno("open seccomp cache file {}", name);
  }
  struct stat st {};
  check(::fstat(fd.get(), &st), "stat seccomp cache file {}", name);
  const auto size = static_cast<std::size_t>(st.st_size);
  const std::size_t header = kHeaderSize + key_text.size();
  if (!S_ISREG(st.st_mode) || !trusted(st) || size <= header ||
      size > header + kMaxInstructions * sizeof(sock_filter) ||
      (size - header) % sizeof(sock_filter) != 0) {
    return std::nullopt;
  }
  std::string data(size, '\0');
  const ssize_t n = ::read(fd.get(), data.data(), size);
  if (n < 0) {
    throw_errno("read seccomp cache file {}", name);
  }
  std::uint64_t stored_length = 0;
  std::memcpy(&stored_length, data.data() + sizeof kCacheMagic, sizeof stored_length);
  if (static_cast<std::size_t>(n) != size ||
      std::memcmp(data.data(), kCacheMagic, sizeof kCacheMagic) != 0 ||
      stored_length != key_text.size() ||
      data.compare(kHeaderSize, key_text.size(), key_text) != 0) {
    return std::nullopt;
  }
  SeccompProgram program;
  program.filter.resize((size - header) / sizeof(sock_filter));
  std::memcpy(program.filter.data(), data.data() + header, size - header);
  return program;
}

void write_cache(const std::filesystem::path& path, std::string_view key_text,
                 const SeccompProgram& program) {
  std::string data(kCacheMagic, sizeof kCacheMagic);
  const std::uint64_t length = key_text.size();
  data.append(reinterpret_cast<const char*>(&length), sizeof length);
  data.append(key_text);
  data.append(reinterpret_cast<const char*>(program.filter.data()),
              program.filter.size() * sizeof(sock_filter));
  write_file_atomic(path, data, Durability::fast, 0600);
}

}  // namespace

SeccompProgram compile_seccomp(const SeccompProfile& profile) {
  // The native architecture and the others (x86 and x32 beside x86-64) are built apart and merged
  // at the end: libseccomp carries a rule to another architecture through the call's name, so a
  // call known only by its number can be added to the native one alone.
  FilterContext native(profile.default_action);
  std::optional<FilterContext> others;
  const std::uint32_t native_arch = seccomp_arch_native();
  for (const auto arch : profile.arches) {
    if (arch == native_arch) {
      continue;
    }
    if (!others) {
      others.emplace(profile.default_action);
    }
    const int rc = seccomp_arch_add(others->get(), arch);
    if (rc != 0 && rc != -EEXIST) {
      check_neg(rc, "seccomp_arch_add {:#x}", arch);
    }
  }
  if (others) {
    check_neg(seccomp_arch_remove(others->get(), native_arch), "seccomp_arch_remove native");
  }
  for (const auto& rule : profile.rules) {
    if (rule.action == profile.default_action) {
      continue;
    }
    for (const auto& name : rule.names) {
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr != __NR_SCMP_ERROR) {
        add_rule(native, rule, name, nr);
        if (others) {
          add_rule(*others, rule, name, nr);
        }
      } else if (const auto new_nr = new_syscall_number(name)) {
        add_rule(native, rule, name, *new_nr);
      }
    }
  }
  if (others) {
    native.merge(*others);
  }
  return SeccompProgram{export_bpf(native)};
}

std::string seccomp_cache_name(const SeccompProfile& profile) {
  return cache_file_name(cache_key_text(profile));
}

SeccompProgram load_or_compile_seccomp(const SeccompProfile& profile,
                                       const std::filesystem::path& cache_dir) {
  const auto key_text = cache_key_text(profile);
  const auto name = cache_file_name(key_text);
  const UniqueFd dir = open_cache_dir(cache_dir);
  if (!dir) {
    return compile_seccomp(profile);
  }
  if (auto cached = read_cache(dir.borrow(), name, key_text)) {
    return std::move(*cached);
  }
  auto program = compile_seccomp(profile);
  write_cache(cache_dir / name, key_text, program);
  return program;
}

int apply_seccomp(const SeccompProgram& program) noexcept {
  sock_fprog prog = program.fprog();
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return -errno;
  }
  return 0;
}

}  // namespace gctool::sys
