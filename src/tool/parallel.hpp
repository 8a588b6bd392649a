// Runs one job per item at once, each in a child process: the CLI has no threads, and the jobs
// (stopping, killing, starting containers) fork and wait themselves, which threads must not.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"

namespace gctool::tool {

// job(item) returns a message (empty for success); the messages come back in the items' order.
// The children share nothing but the pipe their message comes back on.
template <typename Job>
std::vector<std::string> run_in_parallel(const std::vector<std::string>& items, Job job) {
  struct Child {
    pid_t pid = -1;
    UniqueFd out;
  };
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<Child> children;
  std::vector<std::string> results(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      results[i] = fmt::format("pipe: {}", std::strerror(errno));
      children.emplace_back();
      continue;
    }
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    const pid_t pid = ::fork();
    if (pid == 0) {
      read_end.reset();
      const auto message = job(items[i]);
      std::fflush(stdout);
      std::size_t done = 0;
      while (done < message.size()) {
        const auto n = ::write(write_end.get(), message.data() + done, message.size() - done);
        if (n <= 0) {
          break;
        }
        done += static_cast<std::size_t>(n);
      }
      ::_exit(0);
    }
    if (pid < 0) {
      results[i] = fmt::format("fork: {}", std::strerror(errno));
      children.emplace_back();
      continue;
    }
    children.push_back({pid, std::move(read_end)});
  }
  for (std::size_t i = 0; i < children.size(); ++i) {
    auto& child = children[i];
    if (child.pid < 0) {
      continue;
    }
    char buf[4096];
    for (ssize_t n; (n = ::read(child.out.get(), buf, sizeof buf)) != 0;) {
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        break;
      }
      results[i].append(buf, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) && results[i].empty()) {
      results[i] = fmt::format("{}: the worker process died", items[i]);
    }
  }
  return results;
}

}  // namespace gctool::tool
