// Helpers for container tests: a data root with the busybox image, gctool processes running in
// the background, and the check that nothing of a container outlives it.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "image_support.hpp"
#include "net_support.hpp"
#include "test_support.hpp"

namespace gctool::test {

// Directories named like container ids under the gctool parent cgroup of every v1 controller
// (or of the v2 root), with their processes.
inline std::set<std::filesystem::path> gctool_cgroups() {
  std::set<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& hierarchy : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    const auto parent = hierarchy.path() / "gctool";
    for (std::filesystem::directory_iterator it(parent, ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->is_directory() && it->path().filename().string().size() == 64) {
        found.insert(it->path());
      }
    }
    ec.clear();
  }
  return found;
}

// A data root in a temp dir with busybox imported. leaks() lists mounts under it, new empty
// container cgroups and container directories that remain.
//
// While it lives, the calling thread (and every gctool process the test starts) is in a network
// namespace of its own that stands in for the host's: the default network `run` creates, its
// bridge, gctool's nft table and sysctls stay in there and vanish with it, and tests never
// change the real host's network.
class TestRoot {
 public:
  // With tmpfs_size ("64m"), the root is a tmpfs of that size (unmounted with the root), so
  // that a container can fill its disk.
  explicit TestRoot(const std::string& tmpfs_size = "") : cgroups_before_(gctool_cgroups()) {
    if (!tmpfs_size.empty()) {
      const std::string options = "size=" + tmpfs_size + ",mode=0700";
      if (::mount("tmpfs", dir_.str().c_str(), "tmpfs", 0, options.c_str()) != 0) {
        throw std::runtime_error("mount tmpfs on " + dir_.str() + " failed");
      }
    }
    image_id_ = import_busybox(dir_.path());
  }

  // A supervisor finishes its work (the exit, the last event) a moment after `rm -f` returned;
  // removing the root under it races with its lock file and leaves the root behind.
  ~TestRoot() {
    for (int attempt = 0; attempt < 100 && !processes_using(root()).empty(); ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  TestRoot(const TestRoot&) = delete;
  TestRoot& operator=(const TestRoot&) = delete;

  std::string root() const { return dir_.str(); }
  const std::string& image_id() const { return image_id_; }

  RunResult run(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), {"--root", root()});
    return gctool(args, input);
  }

  nlohmann::json inspect(const std::string& ref) const {
    const auto result = run({"inspect", ref});
    if (result.exit_code != 0) {
      return nullptr;
    }
    return nlohmann::json::parse(result.out).at(0);
  }

  // Problems left behind: mounts under the root, container cgroups created since the root was
  // made that are still there, container directories.
  std::vector<std::string> leaks() const {
    std::vector<std::string> problems;
    for (const auto& mount : mounts_under(root())) {
      if (mount != root()) {  // the root's own tmpfs
        problems.push_back("mount " + mount);
      }
    }
    // Cgroups of other tests' live containers have processes; a leaked one is empty. Removal
    // may still be draining, so look again for a while.
    std::vector<std::string> cgroups;
    for (int attempt = 0; attempt < 50; ++attempt) {
      cgroups.clear();
      for (const auto& cg : gctool_cgroups()) {
        if (cgroups_before_.count(cg) == 0 && empty_cgroup(cg)) {
          cgroups.push_back("cgroup " + cg.string());
        }
      }
      if (cgroups.empty()) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    problems.insert(problems.end(), cgroups.begin(), cgroups.end());
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path() / "containers", ec)) {
      problems.push_back("container dir " + entry.path().string());
    }
    return problems;
  }

 private:
  // Pids of the processes whose command line names the root (`--root ROOT`, supervisors).
  static std::vector<pid_t> processes_using(const std::string& root) {
    std::vector<pid_t> pids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      std::ifstream in(entry.path() / "cmdline");
      const std::string cmdline((std::istreambuf_iterator<char>(in)), {});
      if (cmdline.find(root) != std::string::npos) {
        pids.push_back(std::stoi(name));
      }
    }
    return pids;
  }

  static bool empty_cgroup(const std::filesystem::path& cg) {
    std::ifstream procs(cg / "cgroup.procs");
    std::string line;
    return !std::getline(procs, line);
  }

  HostNetns netns_;
  TempDir dir_{"gct-container"};
  std::set<std::filesystem::path> cgroups_before_;
  std::string image_id_;
};

// A gctool process in the background, its output discarded into files.
class Background {
 public:
  Background(const TestRoot& root, std::vector<std::string> args) {
    args.insert(args.begin(), {GCTOOL_BINARY, "--root", root.root()});
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      exec_program(args);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  pid_t pid() const { return pid_; }
  // The exit code as a shell reports it (128+N for a signal).
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

// Waits until the container `name` is running and returns its inspect JSON (null on timeout).
inline nlohmann::json wait_running(const TestRoot& root, const std::string& name) {
  for (int i = 0; i < 300; ++i) {
    auto info = root.inspect(name);
    if (!info.is_null() && info["State"]["Running"].get<bool>()) {
      return info;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return nullptr;
}

// `run -d --network none --name <unique> [flags] busybox args`; returns the name after checking
// that the full id was printed.
inline std::string run_detached(const TestRoot& root, std::vector<std::string> args,
                                std::vector<std::string> flags = {}) {
  const std::string name = unique_name("sup");
  std::vector<std::string> all = {"run", "-d", "--network", "none", "--name", name};
  all.insert(all.end(), flags.begin(), flags.end());
  all.push_back("busybox");
  all.insert(all.end(), args.begin(), args.end());
  const auto result = root.run(all);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  REQUIRE(result.out.size() == 65);
  return name;
}

// `run --rm FLAGS busybox true` is refused as bad input: exit 125, one line on stderr, nothing on
// stdout.
inline void check_refused(const TestRoot& root, const std::vector<std::string>& flags) {
  std::vector<std::string> args = {"run", "--rm"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"busybox", "true"});
  const auto r = root.run(args);
  INFO(fmt::format("flags: {}; stderr: {}", fmt::join(flags, " "), r.err));
  CHECK(r.exit_code == 125);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.out == "");
}

// `rm -f`, checked.
inline void remove(const TestRoot& root, const std::string& name) {
  const auto result = root.run({"rm", "-f", name});
  INFO(result.err);
  CHECK(result.exit_code == 0);
}

// ps -a's STATUS column of the container.
inline std::string status_of(const TestRoot& root, const std::string& name) {
  const auto result = root.run({"ps", "-a", "--format", "json"});
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    const auto row = nlohmann::json::parse(line);
    if (row["Names"] == name) {
      return row["Status"].get<std::string>();
    }
  }
  return "";
}

// Polls done() every 50ms until it holds or limit has passed.
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// "Key:\tvalue" lines (/proc/PID/status) -> {Key: value}.
inline std::map<std::string, std::string> status_fields(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

}  // namespace gctool::test
