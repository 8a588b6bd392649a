// Helpers for tests: temporary directories, running the gctool CLI, and leak checks.
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace gctool::test {

// Removes path recursively without ever leaving its file system: a mount left below it (a bind
// of a host directory, say) is detached first, and a directory on another device is never
// entered, so cleaning up after a failed test can never delete host files.
inline void remove_tree_safely(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto canonical = fs::weakly_canonical(path, ec).string();
  std::vector<std::string> mounts;
  {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string id, parent, devno, root, mount_point;
      fields >> id >> parent >> devno >> root >> mount_point;
      if (mount_point == canonical || mount_point.rfind(canonical + "/", 0) == 0) {
        mounts.push_back(mount_point);
      }
    }
  }
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    ::umount2(it->c_str(), MNT_DETACH);
  }
  struct stat top {};
  if (::lstat(path.c_str(), &top) != 0) {
    return;
  }
  std::vector<fs::path> dirs{path};
  std::vector<fs::path> order;
  while (!dirs.empty()) {
    const fs::path dir = dirs.back();
    dirs.pop_back();
    order.push_back(dir);
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      struct stat st {};
      if (::lstat(entry.path().c_str(), &st) != 0) {
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        if (st.st_dev == top.st_dev) {
          dirs.push_back(entry.path());
        }
      } else {
        ::unlink(entry.path().c_str());
      }
    }
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    ::rmdir(it->c_str());
  }
}

inline bool on_overlayfs(const std::filesystem::path& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC;
}

// A directory under the build tree (or /tmp) removed with everything in it at scope end.
// Overlayfs cannot hold an overlay's upper dir: on a checkout inside a container, root's temp
// dirs get a tmpfs of their own, so that the tests can run containers in them.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "gct-test")
      : TempDir(prefix, std::getenv("GCTOOL_TEST_TMP") != nullptr
                            ? std::filesystem::path(std::getenv("GCTOOL_TEST_TMP"))
                            : std::filesystem::path("/tmp")) {}
  // In parent rather than the tests' temporary directory: for paths that must stay short.
  TempDir(const std::string& prefix, const std::filesystem::path& parent) {
    std::filesystem::create_directories(parent);
    std::string tmpl = (parent / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    top_ = path_ = tmpl;
    if (::geteuid() == 0 && on_overlayfs(top_)) {
      if (::mount("gct-test", top_.c_str(), "tmpfs", 0, "mode=0700") != 0) {
        const int err = errno;
        remove_tree_safely(top_);
        throw std::runtime_error("mount a tmpfs on " + top_.string() + ": " + std::strerror(err));
      }
      // Below the mount point: the leak checks look for mounts under path().
      path_ = top_ / "d";
      std::filesystem::create_directory(path_);
      std::filesystem::permissions(path_, std::filesystem::perms::owner_all);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { remove_tree_safely(top_); }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path top_;
  std::filesystem::path path_;
};

// A file's whole content ("" when it cannot be read).
inline std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The number of lines of a command's output.
inline std::size_t output_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

inline std::string unique_name(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:08x}", prefix, static_cast<unsigned>(rng()));
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a program with argv, optional stdin text, and extra environment; collects both streams.
inline RunResult run_program(const std::vector<std::string>& argv, const std::string& input = "",
                             const std::vector<std::string>& extra_env = {}) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (const auto& e : extra_env) {
      ::putenv(const_cast<char*>(e.c_str()));
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (!input.empty()) {
    [[maybe_unused]] auto n = ::write(in[1], input.data(), input.size());
  }
  ::close(in[1]);
  RunResult result;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) != 0) {
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
        }
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Runs the gctool binary built with these tests.
inline RunResult gctool(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv{GCTOOL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, input);
}

// The names in a directory (empty when it does not exist).
inline std::set<std::string> directory_entries(const std::filesystem::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// Mount points whose path starts with prefix (from /proc/self/mountinfo).
inline std::vector<std::string> mounts_under(const std::string& prefix) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> found;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point.rfind(prefix, 0) == 0) {
      found.push_back(mount_point);
    }
  }
  return found;
}

inline bool is_root() {
  return ::geteuid() == 0;
}

}  // namespace gctool::test
