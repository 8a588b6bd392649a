// The embedder's container API: create, start, attach, read logs, wait, exec, stop and remove
// containers as coroutines on the caller's io::Loop, over the runtime's Container (runtime.hpp).
// Waiting, attaching, following logs and stopping suspend on the loop (exits arrive through
// pidfds), so one loop can run many containers and whatever else the program does; creating,
// starting and removing are short blocking steps of the runtime.
//
//   container::ContainerStore store(root);
//   container::Container c = co_await api::create(loop, store, api::spec_for(root, request));
//   api::Output output = co_await api::start_piped(loop, c);  // or api::start: our fds 1 and 2
//   while (auto record = co_await output.next(loop)) { ... }  // its lines of stdout and stderr
//   const int code = co_await api::wait(loop, c);  // or api::stop(loop, c, 10s)
//   co_await api::remove(loop, c);
//
// The CLI's foreground run, start -a, exec and logs are clients of this API.
#pragma once

#include <signal.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "gctool/container/exec.hpp"
#include "gctool/container/foreground.hpp"
#include "gctool/container/log_format.hpp"
#include "gctool/container/log_reader.hpp"
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

// One record of a container's output: a line of its stdout or stderr without the newline, or a
// piece of a line (partial: the line goes on in the stream's next record, or ended without one).
struct OutputRecord {
  LogStream stream = LogStream::Stdout;
  std::string text;
  bool partial = false;
  std::string timestamp;  // read from the log: when it was logged (RFC 3339, UTC); else empty
};

// The output of a container started by start_piped(), as an async sequence of records: each
// next() returns the next line of stdout or stderr (in the order they became readable), and
// nullopt once both pipes have reached end of file (the container and everything it started
// have closed them). Pieces without a newline are kept until the line ends, up to 64 KiB.
class Output {
 public:
  Output(UniqueFd out, UniqueFd err);
  Output(Output&&) noexcept = default;
  Output& operator=(Output&&) noexcept = default;

  io::Task<std::optional<OutputRecord>> next(io::Loop& loop);

 private:
  struct Stream {
    UniqueFd fd;
    std::string pending;
  };
  std::optional<OutputRecord> take();
  void read_ready(Stream& stream);

  std::array<Stream, 2> streams_;  // stdout, stderr
  std::size_t turn_ = 0;           // which stream is looked at first, in turn
};

// start() with the container's stdout and stderr on pipes of this process, read as records
// through the Output it returns (attach to stdio, as `docker run -a` without a terminal). With a
// tty the console carries both: read it through Container::console() instead.
io::Task<Output> start_piped(io::Loop& loop, Container& container,
                             BorrowedFd stdin_fd = BorrowedFd());

// How attach() connects a process of a container (pid 1 or one exec started) to this process.
struct AttachOptions {
  // A signalfd over kForwardedSignals (io::SignalSet::fd(), made before the process started so
  // that no signal is lost): each is forwarded to the process, SIGWINCH resizes its console.
  // Invalid: none.
  BorrowedFd signals;
  // With a console: fd 0 is relayed to it and the caller's terminal is raw meanwhile.
  bool forward_stdin = false;
  // A container started with output->start(): its pipes are copied to fds 1 and 2 and everything
  // (the console's output too) into its log. Must outlive the loop's tasks.
  ForegroundOutput* output = nullptr;
};

// Attaches to a started container's pid 1 as `docker run` without -d does: relays its console
// (a pty: to fd 1, and fd 0 to it when forward_stdin) or its output pipes, forwards signals,
// and suspends until it exits and its output is drained. Records the exit and returns Docker's
// exit code. Writing to fd 1 does not raise SIGPIPE while it runs with an output.
io::Task<int> attach(io::Loop& loop, Container& container, const AttachOptions& options);

// The same for a process exec() started; returns its exit code (the status, or 128+N).
io::Task<int> attach(io::Loop& loop, ExecProcess& process, const AttachOptions& options);

// Starts a command in the running container `ref` (`docker exec`); returns once it has been
// exec'd. Without a tty its stdout and stderr are this process's fds 1 and 2. Throws an
// invalid-input Error when the container is not running and InitError when the command could
// not be started.
inline io::Task<ExecProcess> exec(io::Loop& loop, const ContainerStore& store, std::string_view ref,
                                  const ExecSpec& spec) {
  (void)loop;
  co_return exec_in_container(store, ref, spec);
}

// Suspends until a process exec() started exits; returns its exit code.
inline io::Task<int> wait(io::Loop& loop, ExecProcess& process) {
  const siginfo_t info = co_await io::wait_exit(loop, process.pidfd());
  const int code = io::exit_code(info);
  process.record_exit(code);
  co_return code;
}

// A container's log (`docker logs [-f]`) as an async sequence of records, with the options of
// `docker logs` (--tail, --since; timestamps are in every record). Works for any container of
// the store, whoever runs it. With follow, next() waits for more until the container has stopped
// and its last output has been read; without, it returns what has been logged so far.
class Logs {
 public:
  Logs(const ContainerStore& store, std::string_view ref, LogReadOptions options, bool follow);
  Logs(Logs&&) noexcept;
  Logs& operator=(Logs&&) noexcept;
  ~Logs();

  const std::string& id() const noexcept;
  io::Task<std::optional<OutputRecord>> next(io::Loop& loop);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The log of container `ref` as bytes to `sink` (`gctool logs`: stdout to fd 1, stderr to fd 2,
// lines prefixed with their time when options.timestamps), following it with follow until the
// container has stopped.
io::Task<void> copy_logs(io::Loop& loop, const ContainerStore& store, std::string_view ref,
                         const LogReadOptions& options, bool follow, LogSink& sink);

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
