// IPAM cost (issue #9): allocate+release and allocate-only on /24, /16 and /8 pools filled to 1%,
// 50% and 99% (random addresses, so the bitmap is fragmented), and a /16 holding exactly 10,000
// addresses (allocated from the start, as a fresh network fills) against an empty /16:
//
// - memory/...      the pure allocator (include/gctool/net/ipam.hpp);
// - store/...       the store gctool runs with (IpamStore: flock, mapped snapshot, journal record
//                   per change, compaction), Durability::fast: no fdatasync, atomic against
//                   crashes of the process;
// - store_durable/... the same with Durability::durable, as `gctool run` uses it: one fdatasync
//                   of the journal per change, so the disk's flush latency;
// - go/...          the Go project's algorithm, reproduced;
// - hostlocal/...   a CNI host-local 1.1 style store, reproduced.
//
// Persisted pools live in a fresh directory under $GCTOOL_BENCH_DIR (default /var/tmp), which must
// not be a tmpfs: the real store lives on disk. One iteration of alloc_release is one allocation
// and one release; one iteration of alloc_only is one allocation (a pool that fills up is reset
// outside the timing).
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <utility>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/net/ipam.hpp"
#include "gctool/net/ipam_store.hpp"

namespace net = gctool::net;
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Pools to start from.

net::Ipv4Network subnet_for(int prefix) {
  return net::Ipv4Network{{10u << 24}, prefix};
}

net::Ipv4Address gateway_of(const net::Ipv4Network& subnet) {
  return {subnet.address.value + 1};
}

// How a benchmark's pool is filled before it starts.
struct Fill {
  int prefix = 24;
  int percent = 0;        // random addresses, this share of the pool
  std::size_t exact = 0;  // or exactly this many, from the start of the pool
  bool use_exact = false;

  std::string name() const {
    return use_exact ? (exact == 0 ? fmt::format("{}/empty", prefix)
                                   : fmt::format("{}/{}_allocated", prefix, exact))
                     : fmt::format("{}/{}%", prefix, percent);
  }
};

net::Ipam filled_ipam(const Fill& fill) {
  const auto subnet = subnet_for(fill.prefix);
  net::Ipam ipam(subnet, gateway_of(subnet));
  if (fill.use_exact) {
    while (ipam.count() < fill.exact && ipam.allocate()) {
    }
    return ipam;
  }
  const auto target = ipam.capacity() * static_cast<std::size_t>(fill.percent) / 100;
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::uint32_t> pick(2,
                                                    static_cast<std::uint32_t>(subnet.size()) - 2);
  // Random picks into a mostly free pool; from a full pool, random releases (either way the
  // picks rarely miss, so filling a /8 to 99% stays fast). Half a pool: each bit drawn at once
  // (8 million single picks into a /8 took 15 s), then picks to the exact count.
  if (fill.percent < 50) {
    while (ipam.count() < target) {
      ipam.allocate(net::Ipv4Address{subnet.address.value + pick(rng)});
    }
  } else if (fill.percent == 50) {
    std::vector<std::uint64_t> words(ipam.words().begin(), ipam.words().end());
    std::mt19937_64 bits(42);
    for (auto& word : words) {
      word |= bits();
    }
    ipam = net::Ipam::from_words(subnet, ipam.gateway(), std::move(words), 0);
    while (ipam.count() < target) {
      ipam.allocate(net::Ipv4Address{subnet.address.value + pick(rng)});
    }
    while (ipam.count() > target) {
      ipam.release(net::Ipv4Address{subnet.address.value + pick(rng)});
    }
  } else {
    while (ipam.allocate()) {
    }
    while (ipam.count() > target) {
      ipam.release(net::Ipv4Address{subnet.address.value + pick(rng)});
    }
  }
  return ipam;
}

// Calls fn(offset) for every allocated address of the pool.
void for_each_allocated(const net::Ipam& ipam, const std::function<void(std::uint32_t)>& fn) {
  const auto base = ipam.subnet().address.value;
  for (std::uint64_t offset = 1; offset + 1 < ipam.subnet().size(); ++offset) {
    const net::Ipv4Address a{static_cast<std::uint32_t>(base + offset)};
    if (a != ipam.gateway() && ipam.is_allocated(a)) {
      fn(static_cast<std::uint32_t>(offset));
    }
  }
}

// A container id as gctool makes them: 64 hex digits.
std::string container_id(std::uint64_t n) {
  return fmt::format("{:064x}", n * 0x9e3779b97f4a7c15ULL);
}

// A fresh directory on disk (not tmpfs), removed at the end.
class BenchDir {
 public:
  BenchDir() {
    const char* base = ::getenv("GCTOOL_BENCH_DIR");
    std::string tmpl = fmt::format("{}/gct-bench-ipam-XXXXXX", base != nullptr ? base : "/var/tmp");
    if (::mkdtemp(tmpl.data()) == nullptr) {
      gctool::throw_errno("mkdtemp {}", tmpl);
    }
    path_ = tmpl;
    struct statfs st {};
    if (::statfs(path_.c_str(), &st) == 0 && st.f_type == TMPFS_MAGIC) {
      fs::remove_all(path_);
      throw gctool::Error::invalid(
          fmt::format("{} is a tmpfs: set GCTOOL_BENCH_DIR to a directory on disk", tmpl));
    }
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  ~BenchDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------
// In memory.

void memory_alloc_release(benchmark::State& bench, Fill fill) {
  auto ipam = filled_ipam(fill);
  for (auto _ : bench) {
    const auto a = ipam.allocate();
    benchmark::DoNotOptimize(a);
    ipam.release(*a);
  }
}

void memory_alloc_only(benchmark::State& bench, Fill fill) {
  const auto initial = filled_ipam(fill);
  auto ipam = initial;
  for (auto _ : bench) {
    auto a = ipam.allocate();
    if (!a) {
      bench.PauseTiming();
      ipam = initial;
      bench.ResumeTiming();
      a = ipam.allocate();
    }
    benchmark::DoNotOptimize(a);
  }
}

// ---------------------------------------------------------------------------------------------
// The store gctool uses.

class StorePool {
 public:
  StorePool(const Fill& fill, gctool::Durability durability) {
    const auto subnet = subnet_for(fill.prefix);
    store_.emplace(dir_.path(), "bench", subnet, gateway_of(subnet), durability);
    net::IpamState state{filled_ipam(fill), {}};
    std::uint64_t n = 0;
    for_each_allocated(state.ipam, [&](std::uint32_t offset) {
      state.owners.emplace(container_id(++n),
                           net::Ipv4Address{state.ipam.subnet().address.value + offset});
    });
    fs::create_directories(dir_.path() / "ipam");
    initial_ = net::encode_ipam_state(state);
    reset();
  }
  void reset() {
    fs::remove(store_->journal_file());
    gctool::write_file(store_->file(), initial_, 0600);
  }
  net::IpamStore& store() { return *store_; }

 private:
  BenchDir dir_;
  std::optional<net::IpamStore> store_;
  std::string initial_;
};

void store_alloc_release(benchmark::State& bench, Fill fill, gctool::Durability durability) {
  StorePool pool(fill, durability);
  const auto id = container_id(1u << 31);
  for (auto _ : bench) {
    benchmark::DoNotOptimize(pool.store().allocate(id));
    pool.store().release(id);
  }
}

void store_alloc_only(benchmark::State& bench, Fill fill, gctool::Durability durability) {
  StorePool pool(fill, durability);
  std::uint64_t n = 1u << 31;
  for (auto _ : bench) {
    try {
      benchmark::DoNotOptimize(pool.store().allocate(container_id(++n)));
    } catch (const gctool::Error&) {
      bench.PauseTiming();
      pool.reset();
      bench.ResumeTiming();
      benchmark::DoNotOptimize(pool.store().allocate(container_id(++n)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The Go project's IPAM (reference/go-docker-notes.txt), reproduced: a JSON object mapping each
// subnet to a string of '0'/'1', one character per address, in one file. Allocate loads and
// parses the whole file, walks the string from its start (formatting the subnet and looking it up
// in the map for every character, as the Go loop does), copies the string to a byte slice and
// back to set one character, and dumps the whole file (O_TRUNC, no lock, no fsync). Release
// loads, clears one character and dumps. One deviation, in Go's favour: it reads the file into a
// 2000-byte buffer, which breaks every pool larger than about a /21; here the whole file is read.

class GoIpam {
 public:
  explicit GoIpam(fs::path file) : path_(std::move(file)) {}

  std::optional<net::Ipv4Address> allocate(const net::Ipv4Network& subnet) {
    auto subnets = load();
    if (!subnets.contains(net::to_string(subnet))) {
      subnets[net::to_string(subnet)] = std::string(subnet.size(), '0');
    }
    std::optional<net::Ipv4Address> ip;
    const auto& pool = subnets[net::to_string(subnet)].get_ref<const std::string&>();
    for (std::size_t c = 0; c < pool.size(); ++c) {
      if (subnets[net::to_string(subnet)].get_ref<const std::string&>()[c] == '0') {
        std::string ipalloc = subnets[net::to_string(subnet)].get<std::string>();
        ipalloc[c] = '1';
        subnets[net::to_string(subnet)] = ipalloc;
        ip = net::Ipv4Address{static_cast<std::uint32_t>(subnet.address.value + c + 1)};
        break;
      }
    }
    dump(subnets);
    return ip;
  }

  void release(const net::Ipv4Network& subnet, net::Ipv4Address ip) {
    auto subnets = load();
    const std::size_t c = ip.value - 1 - subnet.address.value;
    std::string ipalloc = subnets[net::to_string(subnet)].get<std::string>();
    ipalloc[c] = '0';
    subnets[net::to_string(subnet)] = ipalloc;
    dump(subnets);
  }

  void write_pool(const net::Ipv4Network& subnet, const std::string& pool) {
    nlohmann::json subnets = nlohmann::json::object();
    subnets[net::to_string(subnet)] = pool;
    dump(subnets);
  }

 private:
  nlohmann::json load() const {
    auto data = gctool::try_read_file(path_);
    if (!data) {
      return nlohmann::json::object();
    }
    return nlohmann::json::parse(*data);
  }

  void dump(const nlohmann::json& subnets) const {
    fs::create_directories(path_.parent_path());
    gctool::write_file(path_, subnets.dump(), 0644);
  }

  fs::path path_;
};

// The Go pool of a fill: character c stands for the address at offset c + 1. Go's own algorithm
// never reserves the gateway or broadcast addresses; they are '1' here so that the baseline hands
// out the same addresses as the others.
std::string go_pool(const Fill& fill) {
  const auto ipam = filled_ipam(fill);
  const auto base = ipam.subnet().address.value;
  std::string pool(ipam.subnet().size(), '1');
  for (std::uint64_t offset = 1; offset + 1 < ipam.subnet().size(); ++offset) {
    const net::Ipv4Address a{static_cast<std::uint32_t>(base + offset)};
    if (a != ipam.gateway() && !ipam.is_allocated(a)) {
      pool[offset - 1] = '0';
    }
  }
  return pool;
}

void go_alloc_release(benchmark::State& bench, Fill fill) {
  BenchDir dir;
  GoIpam ipam(dir.path() / "network" / "ipam" / "subnet.json");
  const auto subnet = subnet_for(fill.prefix);
  ipam.write_pool(subnet, go_pool(fill));
  for (auto _ : bench) {
    const auto a = ipam.allocate(subnet);
    ipam.release(subnet, *a);
  }
}

void go_alloc_only(benchmark::State& bench, Fill fill) {
  BenchDir dir;
  GoIpam ipam(dir.path() / "network" / "ipam" / "subnet.json");
  const auto subnet = subnet_for(fill.prefix);
  const auto initial = go_pool(fill);
  ipam.write_pool(subnet, initial);
  for (auto _ : bench) {
    auto a = ipam.allocate(subnet);
    if (!a) {
      bench.PauseTiming();
      ipam.write_pool(subnet, initial);
      bench.ResumeTiming();
      a = ipam.allocate(subnet);
    }
    benchmark::DoNotOptimize(a);
  }
}

// ---------------------------------------------------------------------------------------------
// CNI host-local 1.1's disk store, reproduced: one file per address in the network's directory,
// named by the address and holding "ID\r\nIFNAME", a last_reserved_ip.0 file, and an flock of the
// directory itself. ADD: lock; GetByID walks the directory (sorted names, lstat each) and reads
// every file, refusing a second address for the ID; the range iterator starts after
// last_reserved_ip and tries O_EXCL creates until one succeeds (skipping the gateway); the new
// last_reserved_ip is written. DEL: lock; ReleaseByID walks and reads every file and removes the
// ID's. No fsync anywhere, as host-local.

class HostLocal {
 public:
  HostLocal(fs::path dir, net::Ipv4Network subnet) : dir_(std::move(dir)), subnet_(subnet) {
    fs::create_directories(dir_);
  }

  std::optional<net::Ipv4Address> add(const std::string& id) {
    fs::create_directories(dir_);
    const auto lock = lock_dir();
    if (!get_by_id(id).empty()) {
      throw gctool::Error::invalid(fmt::format("{} has an address already", id));
    }
    const auto first = subnet_.address.value + 1;
    const auto last = subnet_.broadcast().value - 1;
    std::uint32_t start = first;
    if (const auto previous = gctool::try_read_file(dir_ / "last_reserved_ip.0")) {
      if (const auto a = net::try_parse_ipv4(*previous);
          a && a->value >= first && a->value < last) {
        start = a->value + 1;
      }
    }
    std::uint32_t candidate = start;
    do {
      if (candidate != gateway_of(subnet_).value && reserve(id, candidate)) {
        gctool::write_file(dir_ / "last_reserved_ip.0", net::to_string(net::Ipv4Address{candidate}),
                           0644);
        return net::Ipv4Address{candidate};
      }
      candidate = candidate == last ? first : candidate + 1;
    } while (candidate != start);
    return std::nullopt;
  }

  void del(const std::string& id) {
    const auto lock = lock_dir();
    walk([&](const fs::path& path, std::string_view data) {
      if (trim(data) == match(id)) {
        fs::remove(path);
      }
    });
  }

  // Creates the file of an allocated address without the protocol (to fill a pool).
  void put(std::uint32_t address, const std::string& id) {
    gctool::write_file(dir_ / net::to_string(net::Ipv4Address{address}), match(id), 0644);
  }

 private:
  static std::string match(const std::string& id) { return id + "\r\neth0"; }

  static std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
      s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
      s.remove_suffix(1);
    }
    return s;
  }

  gctool::UniqueFd lock_dir() const {
    gctool::UniqueFd fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::flock(fd.get(), LOCK_EX) != 0) {
      gctool::throw_errno("lock {}", dir_.string());
    }
    return fd;
  }

  // filepath.Walk: the names sorted, lstat of each, and the visitor reads every regular file.
  void walk(const std::function<void(const fs::path&, std::string_view)>& visit) const {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) {
      gctool::throw_errno("opendir {}", dir_.string());
    }
    while (const dirent* e = ::readdir(d)) {
      if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") {
        names.emplace_back(e->d_name);
      }
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      const auto path = dir_ / name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        continue;
      }
      if (const auto data = gctool::try_read_file(path)) {
        visit(path, *data);
      }
    }
  }

  std::vector<net::Ipv4Address> get_by_id(const std::string& id) const {
    std::vector<net::Ipv4Address> found;
    walk([&](const fs::path& path, std::string_view data) {
      if (trim(data) == match(id) || trim(data) == id) {
        if (const auto a = net::try_parse_ipv4(path.filename().string())) {
          found.push_back(*a);
        }
      }
    });
    return found;
  }

  bool reserve(const std::string& id, std::uint32_t address) const {
    const auto path = dir_ / net::to_string(net::Ipv4Address{address});
    gctool::UniqueFd fd(::open(path.c_str(), O_RDWR | O_EXCL | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) {
      if (errno == EEXIST) {
        return false;
      }
      gctool::throw_errno("create {}", path.string());
    }
    gctool::write_all(fd, match(id), path.string());
    return true;
  }

  fs::path dir_;
  net::Ipv4Network subnet_;
};

class HostLocalPool {
 public:
  explicit HostLocalPool(const Fill& fill)
      : subnet_(subnet_for(fill.prefix)), store_(dir_.path() / "networks" / "bench", subnet_) {
    std::uint64_t n = 0;
    for_each_allocated(filled_ipam(fill), [&](std::uint32_t offset) {
      store_.put(subnet_.address.value + offset, container_id(++n));
    });
  }
  HostLocal& store() { return store_; }

 private:
  BenchDir dir_;
  net::Ipv4Network subnet_;
  HostLocal store_;
};

void hostlocal_alloc_release(benchmark::State& bench, Fill fill) {
  HostLocalPool pool(fill);
  const auto id = container_id(1u << 31);
  for (auto _ : bench) {
    benchmark::DoNotOptimize(pool.store().add(id));
    pool.store().del(id);
  }
}

void hostlocal_alloc_only(benchmark::State& bench, Fill fill) {
  HostLocalPool pool(fill);
  std::uint64_t n = 1u << 31;
  std::vector<std::string> added;
  for (auto _ : bench) {
    added.push_back(container_id(++n));
    auto a = pool.store().add(added.back());
    if (!a) {
      bench.PauseTiming();
      for (const auto& id : added) {
        pool.store().del(id);
      }
      added.clear();
      bench.ResumeTiming();
      added.push_back(container_id(++n));
      a = pool.store().add(added.back());
    }
    benchmark::DoNotOptimize(a);
  }
}

// ---------------------------------------------------------------------------------------------

std::vector<Fill> grid(const std::vector<int>& prefixes) {
  std::vector<Fill> fills;
  for (const int prefix : prefixes) {
    for (const int percent : {1, 50, 99}) {
      fills.push_back({prefix, percent, 0, false});
    }
  }
  return fills;
}

const Fill kEmpty16{16, 0, 0, true};
const Fill kTenThousand16{16, 0, 10000, true};

using BenchFn = void (*)(benchmark::State&, Fill);

// One implementation measured both ways.
struct Kind {
  const char* name;
  BenchFn alloc_release;
  BenchFn alloc_only;
  benchmark::TimeUnit unit;
  benchmark::IterationCount iterations;  // 0: as many as Google Benchmark picks
};

// How long one case runs: a fixed iteration count for the cases whose one operation takes a large
// fraction of a second (the baselines on large pools), a shorter minimum time for the baselines
// whose exact figure matters less, so that a full run (--benchmark_min_time=0.5) stays within
// about three minutes. Zero keeps the kind's setting, then the command line's.
struct Budget {
  benchmark::IterationCount iterations = 0;
  double min_time = 0;
};

void add(const Kind& kind, const Fill& fill, Budget budget = {}) {
  for (const auto& [mode, fn] :
       {std::pair{"alloc_release", kind.alloc_release}, std::pair{"alloc_only", kind.alloc_only}}) {
    auto* b =
        benchmark::RegisterBenchmark(fmt::format("{}/{}/{}", kind.name, mode, fill.name()).c_str(),
                                     [fn = fn, fill](benchmark::State& s) { fn(s, fill); });
    b->Unit(kind.unit);
    if (const auto count = budget.iterations != 0 ? budget.iterations : kind.iterations;
        count != 0) {
      b->Iterations(count);
    } else if (budget.min_time != 0) {
      b->MinTime(budget.min_time);
    }
  }
}

template <gctool::Durability durability>
void store_alloc_release_with(benchmark::State& bench, Fill fill) {
  store_alloc_release(bench, fill, durability);
}

template <gctool::Durability durability>
void store_alloc_only_with(benchmark::State& bench, Fill fill) {
  store_alloc_only(bench, fill, durability);
}

void register_all() {
  using gctool::Durability;
  const Kind memory{"memory", memory_alloc_release, memory_alloc_only, benchmark::kNanosecond, 0};
  const Kind store{"store", store_alloc_release_with<Durability::fast>,
                   store_alloc_only_with<Durability::fast>, benchmark::kMicrosecond, 0};
  // An fdatasync per change: enough iterations to include compactions.
  const Kind store_durable{"store_durable", store_alloc_release_with<Durability::durable>,
                           store_alloc_only_with<Durability::durable>, benchmark::kMicrosecond,
                           2 * net::IpamStore::kCompactAfter};
  const Kind go{"go", go_alloc_release, go_alloc_only, benchmark::kMicrosecond, 0};
  const Kind hostlocal{"hostlocal", hostlocal_alloc_release, hostlocal_alloc_only,
                       benchmark::kMicrosecond, 0};

  // The baselines' cases other than the target's: 0.2 s each is plenty for calls of milliseconds.
  const Budget baseline{0, 0.2};

  // The 10,000-allocated /16 against the empty /16, for every persisted kind (the target's
  // comparison, at the command line's minimum time). host-local reads 10,000 files per call
  // (0.2-0.3 s of CPU, seconds of wall time under load): 2 calls tell its cost.
  for (const auto& fill : {kEmpty16, kTenThousand16}) {
    for (const auto& kind : {store, store_durable, go}) {
      add(kind, fill);
    }
    add(hostlocal, fill, fill.exact == 0 ? baseline : Budget{2});
  }
  for (const auto& fill : grid({24, 16, 8})) {
    add(memory, fill);
  }
  // The store keeps one owner record per allocation: a /8 at 50% or 99% would be 8-16 million
  // containers and a snapshot of 0.6-1.3 GB, beyond any host, so /8 is measured at 1%
  // (167,000 owners).
  auto store_fills = grid({24, 16});
  store_fills.push_back({8, 1, 0, false});
  for (const auto& fill : store_fills) {
    add(store, fill);
  }
  // A Go call on a /8 reads, parses and writes a 16 MB JSON string (0.3-0.8 s): 2 calls each.
  for (const auto& fill : grid({24, 16, 8})) {
    add(go, fill, fill.prefix == 8 ? Budget{2} : baseline);
  }
  // One file per address: a /8 would be 167,000 to 16.6 million files, read on every call; a /16
  // at 50% or 99% is 33,000-65,000 files created per case and read per call (1-2 s of CPU per
  // call, minutes of wall time per case with the creation and removal), so host-local's grid is
  // /24 and /16 at 1%; its /16 figures are the 10,000-allocated and empty cases above.
  for (const auto& fill : grid({24})) {
    add(hostlocal, fill, baseline);
  }
  add(hostlocal, {16, 1, 0, false}, baseline);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
