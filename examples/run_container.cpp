// `docker run --rm --network none IMAGE CMD...` through the container API, in the foreground: the
// command's output passes through, and the program exits with the command's exit code.
//   example_run_container --root DIR IMAGE CMD [ARG...]
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "gctool/container/api.hpp"
#include "gctool/container/init.hpp"
#include "gctool/container/store.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/sync_wait.hpp"
#include "gctool/io/task.hpp"

namespace container = gctool::container;
namespace api = gctool::container::api;
namespace io = gctool::io;

namespace {

io::Task<int> run(io::Loop& loop, const container::ContainerStore& store, container::Spec spec) {
  container::Container c = co_await api::create(loop, store, std::move(spec));
  co_await api::start(loop, c);
  const int code = co_await api::wait(loop, c);
  co_await api::remove(loop, c);
  co_return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || std::string_view(argv[1]) != "--root") {
    fmt::print(stderr, "usage: {} --root DIR IMAGE CMD [ARG...]\n", argv[0]);
    return 125;
  }
  const std::string root = argv[2];
  api::Request request;
  request.image = argv[3];
  request.command.assign(argv + 4, argv + argc);
  request.auto_remove = true;
  try {
    const container::ContainerStore store(root);
    io::Loop loop;
    return io::sync_wait(loop, run(loop, store, api::spec_for(root, request)));
  } catch (const container::InitError& e) {
    fmt::print(stderr, "example_run_container: {}\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_run_container: {}\n", e.what());
    return 125;
  }
}
