// N containers on one loop, their output shown as `docker compose logs -f` shows it: each line
// prefixed with its container's name, until all have exited; then each exit code.
//   example_supervise_many --root DIR IMAGE COUNT CMD [ARG...]
// Container i (0 <= i < COUNT) is named replica-i and has REPLICA=i in its environment. The
// program exits with 0 when every container ran, whatever their exit codes.
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "gctool/container/api.hpp"
#include "gctool/container/store.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/task.hpp"
#include "gctool/io/when_all.hpp"

namespace container = gctool::container;
namespace api = gctool::container::api;
namespace io = gctool::io;

namespace {

// Runs one container to its end, printing its lines as "NAME | line" with the names padded to
// `width`; returns its exit code. Its record and directory go once it has exited (--rm).
io::Task<int> supervise(io::Loop& loop, const container::ContainerStore& store,
                        container::Spec spec, std::size_t width) {
  const std::string name = spec.name;
  container::Container c =
      co_await api::create(loop, store, std::move(spec), gctool::Durability::fast);
  api::Output output = co_await api::start_piped(loop, c);
  fmt::print("{:<{}} | started, id {}\n", name, width, c.id());
  bool line_start = true;
  while (auto record = co_await output.next(loop)) {
    // A partial record (a line without its newline yet) gets the prefix only where it starts.
    fmt::print("{}{}{}", line_start ? fmt::format("{:<{}} | ", name, width) : "", record->text,
               record->partial ? "" : "\n");
    line_start = !record->partial;
  }
  if (!line_start) {
    fmt::print("\n");  // its output ended without a newline
  }
  const int code = co_await api::wait(loop, c);
  co_await api::remove(loop, c);
  fmt::print("{} exited with code {}\n", name, code);
  co_return code;
}

io::Task<void> supervise_all(io::Loop& loop, const container::ContainerStore& store,
                             std::vector<container::Spec> specs) {
  std::size_t width = 0;
  for (const auto& spec : specs) {
    width = std::max(width, spec.name.size());
  }
  std::vector<io::Task<int>> tasks;
  for (auto& spec : specs) {
    tasks.push_back(supervise(loop, store, std::move(spec), width));
  }
  // If one fails, the others are cancelled: their containers are killed and removed.
  co_await io::when_all(std::move(tasks));
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 0;
  const std::string_view count_text = argc > 4 ? argv[4] : "";
  const auto parsed =
      std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  if (argc < 6 || std::string_view(argv[1]) != "--root" || parsed.ec != std::errc{} ||
      parsed.ptr != count_text.data() + count_text.size() || count == 0) {
    fmt::print(stderr, "usage: {} --root DIR IMAGE COUNT CMD [ARG...]\n", argv[0]);
    return 125;
  }
  const std::string root = argv[2];
  try {
    std::vector<container::Spec> specs;
    for (std::size_t i = 0; i < count; ++i) {
      api::Request request;
      request.image = argv[3];
      request.command.assign(argv + 5, argv + argc);
      request.env = {fmt::format("REPLICA={}", i)};
      request.name = fmt::format("replica-{}", i);
      request.auto_remove = true;
      specs.push_back(api::spec_for(root, request));
    }
    const container::ContainerStore store(root);
    io::Loop loop;
    io::sync_wait(loop, supervise_all(loop, store, std::move(specs)));
    std::fflush(stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "example_supervise_many: {}\n", e.what());
    return 125;
  }
}
