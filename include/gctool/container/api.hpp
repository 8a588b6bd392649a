// The embedder's container API: create, start, wait, stop and remove a container as coroutines on
// the caller's io::Loop, over the runtime's Container (runtime.hpp). Waiting and stopping suspend
// on the loop (the exit arrives through the container's pidfd), so one loop can run many
// containers and whatever else the program does; creating, starting and removing are short
// blocking steps of the runtime.
//
//   container::ContainerStore store(root);
//   container::Container c = co_await api::create(loop, store, api::spec_for(root, request));
//   co_await api::start(loop, c);
//   const int code = co_await api::wait(loop, c);  // or api::stop(loop, c, 10s)
//   co_await api::remove(loop, c);
//
// Without a tty, the container's stdout and stderr are this process's fds 1 and 2.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gctool/container/runtime.hpp"
#include "gctool/container/spec.hpp"
#include "gctool/container/store.hpp"
#include "gctool/core/atomic_file.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/units.hpp"
#include "gctool/image/store.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/process.hpp"
#include "gctool/io/task.hpp"
#include "gctool/io/timeout.hpp"

namespace gctool::container::api {

// What to run, in the terms of `docker run IMAGE COMMAND...`.
struct Request {
  std::string image;                 // a name, name:tag or id in the data root's image store
  std::vector<std::string> command;  // replaces the image's Cmd; empty: the image's
  std::vector<std::string> env;      // "K=V", over the image's Env
  std::string name;                  // empty: a random name
  std::string network_mode = "none";
  bool auto_remove = false;  // --rm: remove() also removes the directory and the record
};

// The spec of a request against the images of data root `root`: the image's layers, its
// Entrypoint with the command (or its Cmd), its Env with the request's, its working directory,
// user and stop signal. Throws an invalid-input Error for an image that is not there.
inline Spec spec_for(const std::filesystem::path& root, const Request& request) {
  const image::Image image = image::ImageStore(root).resolve(request.image);
  Spec spec;
  spec.name = request.name;
  spec.image_ref = request.image;
  spec.image_id = image.id;
  spec.layer_dirs = image.layer_dirs;
  std::tie(spec.entrypoint, spec.cmd) =
      resolve_command(image.config.entrypoint, image.config.cmd, std::nullopt, request.command);
  spec.env = image.config.env;
  merge_env(spec.env, request.env);
  spec.working_dir = image.config.working_dir;
  spec.user = image.config.user;
  spec.stop_signal = image.config.stop_signal;
  spec.network_mode = request.network_mode;
  spec.auto_remove = request.auto_remove;
  return spec;
}

// Validates the spec, writes the record, prepares the directory and the cgroup (status created).
inline io::Task<Container> create(io::Loop& loop, const ContainerStore& store, Spec spec,
                                  Durability durability = Durability::durable) {
  (void)loop;
  co_return Container::create(store, std::move(spec), durability);
}

// Starts the container's command; returns once it has been exec'd. Throws InitError when it
// could not be (InitError::exit_code() is Docker's: 127 not found, 126 not executable, 125).
inline io::Task<void> start(io::Loop& loop, Container& container,
                            BorrowedFd stdin_fd = BorrowedFd()) {
  (void)loop;
  container.start(stdin_fd);
  co_return;
}

// Suspends until the container's command exits, records the exit and returns Docker's exit
// code (the status, or 128+N for signal N).
inline io::Task<int> wait(io::Loop& loop, Container& container) {
  const siginfo_t info = co_await io::wait_exit(loop, container.pidfd());
  co_return container.record_exit(info);
}

// Docker's stop: the image's stop signal (SIGTERM by default), then SIGKILL once `grace` has
// passed; returns the exit code.
inline io::Task<int> stop(io::Loop& loop, Container& container,
                          std::chrono::nanoseconds grace = std::chrono::seconds(10)) {
  const std::string& name = container.record().spec.stop_signal;
  container.kill(name.empty() ? SIGTERM : parse_signal(name));
  siginfo_t info{};
  bool exited = false;
  try {
    info = co_await io::with_timeout(loop, io::wait_exit(loop, container.pidfd()), grace);
    exited = true;
  } catch (const io::TimedOut&) {
    container.kill(SIGKILL);  // no co_await inside a handler
  }
  if (!exited) {
    info = co_await io::wait_exit(loop, container.pidfd());
  }
  co_return container.record_exit(info);
}

// After the exit: releases the cgroup and what is left in it; with auto_remove also the
// directory and the record, otherwise the exited container stays (for ps, inspect, rm).
inline io::Task<void> remove(io::Loop& loop, Container& container) {
  (void)loop;
  container.finish();
  co_return;
}

}  // namespace gctool::container::api
