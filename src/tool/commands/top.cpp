// `gctool top CONTAINER [ps OPTIONS]`: the container's processes as the host's ps shows them
// (`-ef` by default), in `docker top`'s layout: ps's columns, only the rows of the container's
// processes.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"
#include "container_store.hpp"
#include "gctool/container/processes.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "table.hpp"

namespace gctool::tool {
namespace {

struct TopArgs {
  std::string container;
  std::vector<std::string> ps_args;
};

// ps's output; throws when it fails, as Docker: "Error running ps: exit status 1".
std::string run_ps(const std::vector<std::string>& args) {
  int fds[2];
  check(::pipe2(fds, O_CLOEXEC), "pipe for ps");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const pid_t pid = ::fork();
  check(pid, "fork ps");
  if (pid == 0) {
    ::dup2(write_end.get(), 1);
    std::vector<char*> argv{const_cast<char*>("ps")};
    for (const auto& arg : args) {
      argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    ::execvp("ps", argv.data());
    ::_exit(127);
  }
  write_end.reset();
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw_invalid("Error running ps: exit status {}",
                  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return out;
}

std::vector<std::string> fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string field; in >> field;) {
    out.push_back(field);
  }
  return out;
}

void top(const Globals& globals, const TopArgs& args) {
  const auto pids = container::container_processes(open_container_store(globals), args.container);
  const auto output = run_ps(args.ps_args.empty() ? std::vector<std::string>{"-ef"} : args.ps_args);
  std::istringstream lines(output);
  std::string header;
  std::getline(lines, header);
  const auto titles = fields(header);
  const auto pid_column = std::find(titles.begin(), titles.end(), "PID");
  if (pid_column == titles.end()) {
    throw_invalid("Couldn't find PID field in ps output");
  }
  const auto pid_index = static_cast<std::size_t>(pid_column - titles.begin());
  std::vector<std::vector<std::string>> rows{titles};
  for (std::string line; std::getline(lines, line);) {
    auto cells = fields(line);
    if (cells.size() <= pid_index) {
      continue;
    }
    pid_t pid = 0;
    const auto& text = cells[pid_index];
    if (std::from_chars(text.data(), text.data() + text.size(), pid).ec != std::errc() ||
        !std::binary_search(pids.begin(), pids.end(), pid)) {
      continue;
    }
    // The last column (the command) keeps its spaces.
    if (cells.size() > titles.size()) {
      std::string last;
      for (std::size_t i = titles.size() - 1; i < cells.size(); ++i) {
        last += (last.empty() ? "" : " ") + cells[i];
      }
      cells.resize(titles.size() - 1);
      cells.push_back(last);
    }
    rows.push_back(std::move(cells));
  }
  print_table(rows, 20);
}

void setup_top(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("top", "Display the running processes of a container");
  // CONTAINER and everything after it: `top c -o pid,args` must not parse -o.
  cmd->prefix_command();
  cmd->callback([cmd, &globals] {
    auto words = cmd->remaining();
    if (words.empty()) {
      throw_invalid("\"top\" requires at least 1 argument");
    }
    TopArgs args{words.front(), std::vector<std::string>(words.begin() + 1, words.end())};
    with_daemon_exit_code(globals, [&] { top(globals, args); });
  });
}

GCTOOL_REGISTER_COMMAND(setup_top, "top");

}  // namespace
}  // namespace gctool::tool
