// Fault injection (issue 14, acceptance): gctool is killed with SIGKILL at random moments of
// `run -d`, `rm -f`, `stop`, `network create`, `network rm`, `volume rm` and `commit` (at least
// 50 kills that cut a command short; the delays come from a seed printed on stderr, and
// GCTOOL_FAULT_SEED=N replays a run). Then `ps -a` and the removal of everything must bring the
// mounts, cgroups, links, nft rules, IPAM state, processes and files under the root back to the
// baseline taken before. A kill of `run -d` also kills, half of the time, the supervisor and init
// it forked meanwhile. Everything happens in the network namespace of the TestRoot.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "container_support.hpp"
#include "gctool/net/firewall.hpp"
#include "gctool/net/link.hpp"
#include "gctool/net/network.hpp"
#include "net_support.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

namespace fsys = std::filesystem;
using Clock = std::chrono::steady_clock;

enum class Op { run_detached, remove, stop, network_create, network_remove, volume_remove, commit };
constexpr Op kOps[] = {Op::run_detached,   Op::remove,        Op::stop,  Op::network_create,
                       Op::network_remove, Op::volume_remove, Op::commit};
constexpr int kKillsPerOp = 8;      // kills that cut the command short, per operation
constexpr auto kKillBudget = 200s;  // the kills stop here even if fewer were effective

const char* op_name(Op op) {
  switch (op) {
    case Op::run_detached:
      return "run -d";
    case Op::remove:
      return "rm -f";
    case Op::stop:
      return "stop";
    case Op::network_create:
      return "network create";
    case Op::network_remove:
      return "network rm";
    case Op::volume_remove:
      return "volume rm";
    case Op::commit:
      return "commit";
  }
  return "?";
}

// The text of a file, or what could be read of it: /proc files of a process that exits meanwhile
// fail to read (ESRCH), which libstdc++ reports by throwing.
std::string read_text(const fsys::path& path) {
  try {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return {};
  }
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

// Every file and directory under dir, relative, with a type letter.
std::set<std::string> tree(const fsys::path& dir) {
  std::set<std::string> found;
  std::error_code ec;
  for (fsys::recursive_directory_iterator it(dir, fsys::directory_options::none, ec), end;
       !ec && it != end; it.increment(ec)) {
    const auto type = it->symlink_status(ec).type();
    const char letter = type == fsys::file_type::directory ? 'd'
                        : type == fsys::file_type::symlink ? 'l'
                                                           : 'f';
    found.insert(fmt::format("{} {}", letter, fsys::relative(it->path(), dir).string()));
  }
  return found;
}

std::set<std::string> all_links() {
  net::Netlink nl;
  std::set<std::string> names;
  for (const auto& link : net::list_links(nl)) {
    names.insert(link.name);
  }
  return names;
}

// gctool processes working on the root: the CLI, its supervisors and container inits before
// their exec, gctool-supervisor (whose log path is under the root). With a marker, also the
// containers' commands, which carry it in their environment.
std::set<pid_t> test_processes(const std::string& root, const std::string& marker = "") {
  std::set<pid_t> found;
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const pid_t pid = std::stoi(name);
    if (pid == ::getpid()) {
      continue;
    }
    if (read_text(entry.path() / "cmdline").find(root) != std::string::npos ||
        (!marker.empty() &&
         read_text(entry.path() / "environ").find(marker) != std::string::npos)) {
      found.insert(pid);
    }
  }
  return found;
}

class FaultRun {
 public:
  explicit FaultRun(std::uint64_t seed)
      : rng_(seed), marker_("GCT_FAULT_MARK=" + unique_name("")) {}

  const TestRoot& root() const { return root_; }
  const std::string& marker() const { return marker_; }

  RunResult run(std::vector<std::string> args) {
    note_ids();
    return root_.run(std::move(args));
  }

  void require(std::vector<std::string> args) {
    const auto result = run(args);
    INFO("gctool " << fmt::format("{}", fmt::join(args, " ")) << ": " << result.err);
    REQUIRE(result.exit_code == 0);
  }

  // Starts `gctool --root ROOT args`, SIGKILLs it after delay (and, with kill_forked, the gctool
  // processes of the root that appeared meanwhile); true when the kill cut it short.
  bool run_killed(const std::vector<std::string>& args, std::chrono::microseconds delay,
                  bool kill_forked) {
    note_ids();
    const auto before = test_processes(root_.root());
    Background cli(root_, args);
    std::this_thread::sleep_for(delay);
    ::kill(cli.pid(), SIGKILL);
    if (kill_forked) {
      for (const pid_t p : test_processes(root_.root())) {
        if (!before.contains(p) && p != cli.pid()) {
          ::kill(p, SIGKILL);
        }
      }
    }
    // gctool itself never exits with 128+9.
    return cli.wait() == 128 + SIGKILL;
  }

  // How long a command takes here, to draw kill delays from (median of a few runs).
  void calibrate(Op op, const std::vector<std::string>& args) {
    const auto start = Clock::now();
    const auto result = run(args);
    INFO(op_name(op) << ": " << result.err);
    REQUIRE(result.exit_code == 0);
    durations_[op] = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  }

  // A kill of op came after the command had finished (the machine got faster than when it was
  // measured): later kills are drawn from a shorter span.
  void shorten(Op op) {
    auto& duration = durations_.at(op);
    duration = std::max(duration * 3 / 4, std::chrono::microseconds(1000));
  }

  std::chrono::microseconds random_delay(Op op) {
    const auto limit = durations_.at(op).count() * 6 / 5;
    return std::chrono::microseconds(std::uniform_int_distribution<long>(0, limit)(rng_));
  }

  std::uint64_t random(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
  }

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[random(items.size())];
  }

  std::string random_subnet() {
    return fmt::format("10.{}.{}.0/24", 16 + random(200), random(250));
  }

  std::vector<std::string> list(std::vector<std::string> args) {
    const auto result = run(args);
    INFO(fmt::format("{}", fmt::join(args, " ")) << ": " << result.err);
    REQUIRE(result.exit_code == 0);
    return lines(result.out);
  }
  std::vector<std::string> containers(bool all = true) {
    return list(all ? std::vector<std::string>{"ps", "-a", "-q", "--no-trunc"}
                    : std::vector<std::string>{"ps", "-q", "--no-trunc"});
  }
  // The user-defined networks: `network rm bridge` is refused, as Docker's.
  std::vector<std::string> networks() {
    auto names = list({"network", "ls", "--format", "{{.Name}}"});
    std::erase(names, std::string(net::kDefaultNetwork));
    return names;
  }
  std::vector<std::string> volumes() { return list({"volume", "ls", "-q"}); }
  std::vector<std::string> images() { return list({"image", "ls", "-q", "--no-trunc"}); }

  // `run -d` of a container that changed its filesystem, on a random network, maybe with a
  // published port and a volume.
  std::vector<std::string> run_args() {
    std::vector<std::string> args = {"run", "-d", "-e", marker_};
    const auto nets = networks();
    switch (random(4)) {
      case 0:
        args.insert(args.end(), {"--network", "none"});
        break;
      case 1:
        if (!nets.empty()) {
          args.insert(args.end(), {"--network", pick(nets)});
        }
        break;
      default:
        break;  // the default network, created on first use
    }
    if (args.back() != "none" && random(2) == 0) {
      args.insert(args.end(), {"-p", "80"});
    }
    if (random(2) == 0) {
      args.insert(args.end(), {"-v", fmt::format("fv{}:/data", random(3))});
    }
    args.insert(args.end(), {"busybox", "sh", "-c", "echo x > /changed; exec sleep 1000"});
    return args;
  }

  // The arguments of one operation, after making sure it has something to work on.
  std::vector<std::string> prepare(Op op) {
    switch (op) {
      case Op::run_detached:
        return run_args();
      case Op::remove:
      case Op::commit: {
        auto ids = containers();
        if (ids.empty()) {
          require(run_args());
          ids = containers();
        }
        if (op == Op::remove) {
          return {"rm", "-f", pick(ids)};
        }
        return {"commit", pick(ids), fmt::format("fault:{}", ++counter_)};
      }
      case Op::stop: {
        auto ids = containers(false);
        if (ids.empty()) {
          require(run_args());
          ids = containers(false);
        }
        return {"stop", "-t", random(2) == 0 ? "0" : "1", pick(ids)};
      }
      case Op::network_create:
        return {"network", "create", "--subnet", random_subnet(), fmt::format("fn{}", ++counter_)};
      case Op::network_remove: {
        auto nets = networks();
        if (nets.empty()) {
          require(
              {"network", "create", "--subnet", random_subnet(), fmt::format("fn{}", ++counter_)});
          nets = networks();
        }
        std::vector<std::string> args = {"network", "rm"};
        if (random(2) == 0) {
          args.push_back("-f");
        }
        args.push_back(pick(nets));
        return args;
      }
      case Op::volume_remove: {
        auto vols = volumes();
        if (vols.empty() || random(2) == 0) {
          const std::string name = fmt::format("fv{}", 3 + ++counter_);
          require({"volume", "create", name});
          vols = {name};
        }
        return {"volume", "rm", pick(vols)};
      }
    }
    return {};
  }

  // Removes every container, network, volume and committed image, as a user would.
  void remove_everything(const std::string& base_image) {
    for (int pass = 0; pass < 3; ++pass) {
      const auto ids = containers();
      for (const auto& id : ids) {
        const auto result = run({"rm", "-f", id});
        INFO("rm -f " << id << ": " << result.err);
        CHECK(result.exit_code == 0);
      }
      const auto nets = networks();
      for (const auto& n : nets) {
        const auto result = run({"network", "rm", "-f", n});
        INFO("network rm " << n << ": " << result.err);
        CHECK(result.exit_code == 0);
      }
      const auto vols = volumes();
      for (const auto& v : vols) {
        const auto result = run({"volume", "rm", v});
        INFO("volume rm " << v << ": " << result.err);
        CHECK(result.exit_code == 0);
      }
      std::vector<std::string> imgs;
      for (const auto& i : images()) {
        if (i != base_image) {
          imgs.push_back(i);
        }
      }
      for (const auto& i : imgs) {
        const auto result = run({"image", "rm", "-f", i});
        INFO("image rm " << i << ": " << result.err);
        CHECK(result.exit_code == 0);
      }
      if (ids.empty() && nets.empty() && vols.empty() && imgs.empty()) {
        return;
      }
    }
  }

  // Every container id that had a directory or was listed at some point.
  const std::set<std::string>& ids_seen() {
    note_ids();
    return ids_;
  }

 private:
  void note_ids() {
    std::error_code ec;
    for (const auto& entry :
         fsys::directory_iterator(fsys::path(root_.root()) / "containers", ec)) {
      std::string name = entry.path().filename().string();
      if (name.starts_with(".removing-")) {
        name = name.substr(10);
      }
      if (name.size() == 64) {
        ids_.insert(name);
      }
    }
  }

  TestRoot root_;
  std::mt19937_64 rng_;
  std::string marker_;
  std::map<Op, std::chrono::microseconds> durations_;
  std::set<std::string> ids_;
  int counter_ = 0;
};

std::uint64_t fault_seed() {
  if (const char* text = std::getenv("GCTOOL_FAULT_SEED")) {
    return std::strtoull(text, nullptr, 10);
  }
  return std::random_device{}();
}

}  // namespace

TEST_CASE("gctool killed at random moments leaves nothing once everything is removed",
          "[root][fault]") {
  const std::uint64_t seed = fault_seed();
  fmt::print(stderr, "fault injection seed {} (GCTOOL_FAULT_SEED={} replays it)\n", seed, seed);
  INFO("seed " << seed);
  FaultRun f(seed);
  const fsys::path root = f.root().root();
  const std::string base_image = f.root().image_id();

  // A warm-up that uses every kind of state once and measures each operation, so that the
  // baseline has the root's lock files and directories.
  f.calibrate(Op::network_create, {"network", "create", "--subnet", f.random_subnet(), "fwarm"});
  f.calibrate(Op::run_detached,
              {"run", "-d", "--name", "warm", "-e", f.marker(), "--network", "fwarm", "-p", "80",
               "-v", "fvwarm:/data", "busybox", "sh", "-c", "echo x > /changed; exec sleep 1000"});
  f.require({"run", "-d", "--name", "warm2", "-e", f.marker(), "busybox", "sleep", "1000"});
  f.calibrate(Op::commit, {"commit", "warm", "fault:warm"});
  f.calibrate(Op::stop, {"stop", "-t", "1", "warm"});
  f.calibrate(Op::remove, {"rm", "-f", "warm2"});
  f.require({"rm", "-f", "warm"});
  f.calibrate(Op::network_remove, {"network", "rm", "fwarm"});
  net::remove_default_network(root, false);  // `network rm bridge` is refused, as Docker's
  f.calibrate(Op::volume_remove, {"volume", "rm", "fvwarm"});
  f.require({"image", "rm", "fault:warm"});
  f.require({"ps", "-a"});

  const auto files_before = tree(root);
  const auto links_before = all_links();
  const bool table_before = net::firewall_table_exists();
  REQUIRE(net::list_firewall_rules().empty());
  REQUIRE(mounts_under(root.string()).empty());
  REQUIRE(test_processes(root.string(), f.marker()).empty());

  // The kills, each of an operation drawn from the seed among those that still need kills.
  std::map<Op, int> effective;
  int kills = 0;
  const auto start = Clock::now();
  while (Clock::now() - start <= kKillBudget) {
    std::vector<Op> pending;
    for (const Op op : kOps) {
      if (effective[op] < kKillsPerOp) {
        pending.push_back(op);
      }
    }
    if (pending.empty()) {
      break;
    }
    const Op op = f.pick(pending);
    const auto args = f.prepare(op);
    const bool kill_forked = op == Op::run_detached && f.random(2) == 0;
    ++kills;
    if (f.run_killed(args, f.random_delay(op), kill_forked)) {
      ++effective[op];
    } else {
      f.shorten(op);
    }
    if (f.random(4) == 0) {
      const auto ps = f.run({"ps", "-a"});
      INFO("ps -a after a killed " << op_name(op) << ": " << ps.err);
      REQUIRE(ps.exit_code == 0);
    }
  }
  int total = 0;
  std::string summary;
  for (const Op op : kOps) {
    total += effective[op];
    summary += fmt::format(" {}: {},", op_name(op), effective[op]);
  }
  fmt::print(stderr, "{} kills in {} s, {} cut a command short:{}\n", kills,
             std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count(), total,
             summary);
  CHECK(total >= 50);

  // Supervisors that survived their killed CLI finish starting their containers first.
  std::this_thread::sleep_for(1s);
  const auto ps = f.run({"ps", "-a"});
  INFO(ps.err);
  REQUIRE(ps.exit_code == 0);
  f.remove_everything(base_image);
  net::remove_default_network(root, true);

  CHECK(f.containers().empty());
  CHECK(f.networks().empty());
  CHECK(f.volumes().empty());
  CHECK(f.images() == std::vector<std::string>{base_image});
  const bool processes_gone =
      wait_until([&] { return test_processes(root.string(), f.marker()).empty(); }, 10s);
  std::string leftover;
  for (const pid_t pid : test_processes(root.string(), f.marker())) {
    const fsys::path proc = fsys::path("/proc") / std::to_string(pid);
    std::string cmdline = read_text(proc / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    leftover += fmt::format("\n{} [{}] {}", pid, read_text(proc / "stat"), cmdline);
  }
  INFO("processes left:" << leftover);
  CHECK(processes_gone);
  CHECK(mounts_under(root.string()).empty());
  CHECK(all_links() == links_before);
  CHECK(net::list_firewall_rules().empty());
  CHECK(net::firewall_table_exists() == table_before);
  std::vector<std::string> cgroups;
  CHECK(wait_until(
      [&] {
        cgroups.clear();
        for (const auto& cg : gctool_cgroups()) {
          if (f.ids_seen().contains(cg.filename().string())) {
            cgroups.push_back(cg.string());
          }
        }
        return cgroups.empty();
      },
      10s));
  CHECK(cgroups.empty());
  // Files under the root, IPAM pools and journals among them.
  const auto files_after = tree(root);
  std::vector<std::string> added;
  std::vector<std::string> missing;
  std::set_difference(files_after.begin(), files_after.end(), files_before.begin(),
                      files_before.end(), std::back_inserter(added));
  std::set_difference(files_before.begin(), files_before.end(), files_after.begin(),
                      files_after.end(), std::back_inserter(missing));
  INFO("left under the root: " << fmt::format("{}", fmt::join(added, ", ")));
  INFO("gone from the root: " << fmt::format("{}", fmt::join(missing, ", ")));
  CHECK(added.empty());
  CHECK(missing.empty());
  CHECK(f.root().leaks().empty());
}
