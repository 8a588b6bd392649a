// For the security tests: run a body in a forked child (so capability drops, seccomp filters and
// mounts never touch the test process) and collect what it reports through a pipe.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace gctool::test {

struct ChildResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string output;
};

// The child writes to `out` (a pipe); whatever body returns becomes its exit code. Exceptions in
// the child exit with 120.
template <typename Body>
ChildResult run_in_child(Body body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::close(fds[0]);
    int code = 120;
    try {
      code = body(fds[1]);
    } catch (...) {
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  ChildResult result;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      result.output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// For a child that tries mount(2): a private mount namespace, so that a mount which should have
// been refused but was not lands nowhere near the host's tree. Returns false on failure.
inline bool private_mount_namespace() {
  return ::unshare(CLONE_NEWNS) == 0 &&
         ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
}

inline void report(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) {
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reports "name=<errno or 0>\n" for a call that returns -1 and sets errno on failure.
inline void report_call(int fd, std::string_view name, long rc) {
  report(fd, fmt::format("{}={}\n", name, rc < 0 ? errno : 0));
}

// Copies the security lines of /proc/self/status (CapEff, NoNewPrivs, Seccomp, ...) to fd as
// "Name=value" lines.
inline void report_status(int fd) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    const auto name = line.substr(0, colon);
    if (name.rfind("Cap", 0) == 0 || name == "NoNewPrivs" || name == "Seccomp") {
      const auto value = line.substr(line.find_first_not_of(" \t", colon + 1));
      report(fd, fmt::format("{}={}\n", name, value));
    }
  }
}

// "a=1\nb=2\n" as a map; also accepts "Name:\tvalue" lines (a copy of /proc/PID/status).
inline std::map<std::string, std::string> parse_report(const std::string& text) {
  std::map<std::string, std::string> values;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto sep = line.find('=');
    auto skip = sep + 1;
    if (sep == std::string::npos) {
      sep = line.find(':');
      if (sep == std::string::npos) {
        continue;
      }
      skip = line.find_first_not_of(" \t", sep + 1);
      skip = skip == std::string::npos ? line.size() : skip;
    }
    values[line.substr(0, sep)] = line.substr(skip);
  }
  return values;
}

}  // namespace gctool::test
