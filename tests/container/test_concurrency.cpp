// Four processes drive five containers with random start, stop, kill, restart, rm -f and exec
// at once. After each operation the container's record must agree with the kernel (its pid 1
// alive with the recorded start time or not, its cgroup there or not), and once everything is
// removed nothing is left: mounts, cgroups, links, processes, files under the root.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "container_support.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/proc.hpp"

using namespace gctool;
using namespace gctool::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

constexpr int kWorkers = 4;
constexpr int kOperations = 200;  // in all
constexpr int kContainers = 5;
constexpr auto kTimeLimit = 150s;

// The seed, printed so that a failing run can be repeated (GCTOOL_TEST_SEED overrides it).
unsigned test_seed() {
  const char* text = std::getenv("GCTOOL_TEST_SEED");
  return text != nullptr ? static_cast<unsigned>(std::strtoul(text, nullptr, 10)) : 20261202;
}

// The container's `run -d` flags and command: the last one restarts itself on failure, so that
// the operations also meet a container that is restarting.
std::vector<std::string> create_args(const std::string& name, int index) {
  std::vector<std::string> args = {"run", "-d", "--name", name};
  if (index == kContainers - 1) {
    args.insert(args.end(), {"--restart", "on-failure", "busybox", "sh", "-c", "sleep 2; exit 3"});
  } else {
    args.insert(args.end(), {"busybox", "sleep", "100000"});
  }
  return args;
}

bool mentions(const std::string& text, std::initializer_list<const char*> words) {
  for (const char* word : words) {
    if (text.find(word) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Whether the process is alive and the one recorded.
bool alive(const nlohmann::json& process_id_pid, const nlohmann::json& start_time) {
  const auto pid = process_id_pid.get<pid_t>();
  return pid > 0 && process_matches(pid, start_time.get<std::uint64_t>());
}

bool has_cgroup(const std::string& id) {
  for (const auto& cg : gctool_cgroups()) {
    if (cg.filename() == id) {
      return true;
    }
  }
  return false;
}

enum class Agreement { agrees, transient, disagrees };

// The record of the container named `name` against the kernel, read under the store lock so that
// no gctool process changes the record meanwhile (the kernel side may still change: a kill from
// another worker). `transient`: a live owner is about to record what the kernel shows.
Agreement agreement(const TestRoot& root, const std::string& name, std::string& detail) {
  const fs::path base(root.root());
  const UniqueFd lock(
      ::open((base / "containers.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock || ::flock(lock.get(), LOCK_EX) != 0) {
    detail = "cannot take the store lock";
    return Agreement::disagrees;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base / "containers", ec)) {
    std::ifstream in(entry.path() / "config.json");
    const auto record = nlohmann::json::parse(in, nullptr, false);
    if (record.is_discarded()) {
      detail = "unreadable record " + entry.path().string();
      return Agreement::disagrees;
    }
    if (record["Name"] != "/" + name) {
      continue;
    }
    const auto& state = record["State"];
    const auto& owner = record["Gctool"]["Owner"];
    const std::string status = state["Status"];
    const bool pid_alive = alive(state["Pid"], state["PidStartTime"]);
    const bool owner_alive = alive(owner["Pid"], owner["StartTime"]);
    const bool cgroup = has_cgroup(record["Id"]);
    detail = fmt::format("{}: status {}, pid {} {}, owner {} {}, cgroup {}", name, status,
                         state["Pid"].dump(), pid_alive ? "alive" : "gone", owner["Pid"].dump(),
                         owner_alive ? "alive" : "gone", cgroup ? "present" : "absent");
    if (status == "running") {
      if (pid_alive && cgroup) {
        return Agreement::agrees;
      }
      return !pid_alive && owner_alive ? Agreement::transient : Agreement::disagrees;
    }
    if (status == "restarting") {
      return owner_alive && !pid_alive ? Agreement::agrees : Agreement::disagrees;
    }
    if (owner_alive) {
      // Recording an exit and cleaning up, or taking it over to start it.
      return Agreement::transient;
    }
    return !pid_alive && !cgroup ? Agreement::agrees : Agreement::disagrees;
  }
  detail = name + ": no record";
  return Agreement::agrees;
}

// Waits out transient states (bounded); "" when the record agrees with the kernel.
std::string check_agreement(const TestRoot& root, const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  std::string detail;
  for (;;) {
    const auto result = agreement(root, name, detail);
    if (result == Agreement::agrees) {
      return "";
    }
    if (result == Agreement::disagrees) {
      return "record disagrees with the kernel: " + detail;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return "still in transition after 15s: " + detail;
    }
    std::this_thread::sleep_for(20ms);
  }
}

struct Outcome {
  std::vector<std::string> failures;
  std::vector<std::string> log;
};

// One worker's share of the operations. Runs in a forked child: no Catch2 assertions here.
Outcome work(const TestRoot& root, const std::vector<std::string>& names, int worker,
             int operations, unsigned seed, std::chrono::steady_clock::time_point deadline) {
  Outcome outcome;
  std::mt19937 rng(seed + static_cast<unsigned>(worker));
  const std::vector<std::string> verbs = {"start", "stop", "kill", "restart", "rm", "exec"};
  for (int i = 0; i < operations; ++i) {
    if (std::chrono::steady_clock::now() > deadline) {
      outcome.failures.push_back(
          fmt::format("worker {}: time limit reached after {} operations", worker, i));
      break;
    }
    const int index = static_cast<int>(rng() % names.size());
    const std::string& name = names[index];
    const std::string verb = verbs[rng() % verbs.size()];
    std::vector<std::string> args;
    if (verb == "stop" || verb == "restart") {
      args = {verb, "-t", "1", name};
    } else if (verb == "rm") {
      args = {"rm", "-f", name};
    } else if (verb == "exec") {
      args = {"exec", name, "true"};
    } else {
      args = {verb, name};
    }
    const auto started = std::chrono::steady_clock::now();
    const auto result = root.run(args);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    std::string err = result.err;
    while (!err.empty() && err.back() == '\n') {
      err.pop_back();
    }
    outcome.log.push_back(fmt::format("w{} #{} {} {}: {} in {} ms{}{}", worker, i, verb, name,
                                      result.exit_code, ms, err.empty() ? "" : ": ", err));
    // What a concurrent operation legitimately causes: the container is gone, runs already, does
    // not run (any more), restarts, was removed while it started, or went away under an exec.
    const bool conflict =
        mentions(result.err, {"no such container", "already running", "is not running",
                              "is restarting", "already in use"}) ||
        ((verb == "start" || verb == "restart") &&
         mentions(result.err, {"exited before the container started"})) ||
        (verb == "exec" && result.exit_code != 0 &&
         !mentions(result.err, {"did not exit", "timed out", "corrupt"}));
    if (result.exit_code != 0 && !conflict) {
      outcome.failures.push_back(outcome.log.back());
    }
    if ((verb == "rm" && result.exit_code == 0) || mentions(result.err, {"no such container"})) {
      // Created again; another worker may have been first.
      const auto again = root.run(create_args(name, index));
      if (again.exit_code != 0 && !mentions(again.err, {"already in use"})) {
        outcome.failures.push_back(
            fmt::format("w{} #{} run -d {}: {}", worker, i, name, again.err));
      }
    }
    if (auto problem = check_agreement(root, name); !problem.empty()) {
      outcome.failures.push_back(
          fmt::format("w{} #{} after {} {}: {}", worker, i, verb, name, problem));
    }
  }
  return outcome;
}

// Processes whose command line names the root: supervisors, exec helpers, gctool itself.
std::vector<std::string> processes_using(const std::string& root) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos ||
        pid == std::to_string(::getpid())) {
      continue;
    }
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline(std::istreambuf_iterator<char>(in), {});
    if (cmdline.find(root) != std::string::npos) {
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      found.push_back(pid + ": " + cmdline);
    }
  }
  return found;
}

std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const auto file = fs::relative(it->path(), root);
    // IPAM's spare snapshot appears with the network's first compaction and stays with it.
    if (file.parent_path() != "ipam" || file.extension() != ".spare") {
      files.insert(file.string());
    }
  }
  return files;
}

}  // namespace

TEST_CASE("concurrent operations keep every record true to the kernel and leak nothing",
          "[root][concurrency]") {
  TestRoot root;
  const unsigned seed = test_seed();
  fmt::print("concurrency: seed {} ({} processes, {} operations on {} containers)\n", seed,
             kWorkers, kOperations, kContainers);
  std::fflush(stdout);

  // What a container leaves for good: the default network, its bridge, the seccomp cache.
  const auto warm_up = unique_name("warm");
  REQUIRE(root.run({"run", "--name", warm_up, "busybox", "true"}).exit_code == 0);
  REQUIRE(root.run({"rm", "-f", warm_up}).exit_code == 0);
  const auto files_before = files_under(root.root());
  const auto links_before = gctool_links();

  std::vector<std::string> names;
  for (int i = 0; i < kContainers; ++i) {
    names.push_back(unique_name(fmt::format("c{}-", i)));
    const auto result = root.run(create_args(names.back(), i));
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
  }

  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  std::vector<std::pair<pid_t, int>> children;  // pid, read end of its report
  for (int w = 0; w < kWorkers; ++w) {
    int report[2];
    REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(report[0]);
      const auto outcome = work(root, names, w, kOperations / kWorkers, seed, deadline);
      std::string text;
      for (const auto& line : outcome.log) {
        text += "  " + line + "\n";
      }
      for (const auto& failure : outcome.failures) {
        text += "FAIL " + failure + "\n";
      }
      const UniqueFd out(report[1]);
      try {
        write_all(out.borrow(), text, "report");
      } catch (...) {
      }
      ::_exit(outcome.failures.empty() ? 0 : 1);
    }
    ::close(report[1]);
    children.emplace_back(pid, report[0]);
  }
  std::string reports;
  int failed = 0;
  for (auto& [pid, fd] : children) {
    const UniqueFd in(fd);
    reports += read_all(in.borrow(), "report");
    int status = 0;
    ::waitpid(pid, &status, 0);
    failed += WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
  }
  INFO("seed " << seed << "\n" << reports);
  CHECK(failed == 0);

  for (const auto& name : names) {
    const auto result = root.run({"rm", "-f", name});
    // Removed already by a last rm -f that was not followed by a run.
    CHECK((result.exit_code == 0 || mentions(result.err, {"no such container"})));
  }
  CHECK(root.run({"ps", "-a", "-q"}).out.empty());
  CHECK(root.leaks().empty());
  CHECK(gctool_links() == links_before);
  CHECK(wait_until([&] { return processes_using(root.root()).empty(); }, 10s));
  CHECK(processes_using(root.root()).empty());
  CHECK(files_under(root.root()) == files_before);
}
