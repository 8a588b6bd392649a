// A build stage run in a forked process, so that the independent stages of one build run at the
// same time on as many cores. Processes, not threads: RUN steps clone containers, and a process
// that clones must have no other thread. The child streams its progress lines and, at its end,
// its result (or its error) back over a socket; closing the parent's end of its cancel pipe, or
// the parent's death, cancels it, and it then releases what it made (containers, directories)
// as a cancelled build does.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gctool/build/builder.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/core/pipe.hpp"

namespace gctool::build {

class StageWorker {
 public:
  // What the body gets in the child: where its progress lines go, and an fd that becomes
  // readable (or hung up) when the parent cancels it.
  struct Child {
    std::function<void(std::string_view)> say;
    BorrowedFd cancel;
  };
  using Body = std::function<nlohmann::json(const Child&)>;

  // Forks. The child runs in_child (to close the fds of workers it inherited), then body, sends
  // body's result or its exception (Error, BuildCancelled) to the parent and exits.
  static std::unique_ptr<StageWorker> start(const std::function<void()>& in_child,
                                            const Body& body);
  StageWorker(const StageWorker&) = delete;
  StageWorker& operator=(const StageWorker&) = delete;
  // Cancels the child when it still runs and waits for it to finish its cleanup.
  ~StageWorker();

  // Readable when progress or the end arrived.
  BorrowedFd fd() const { return socket_.borrow(); }
  // Reads what is there: the complete progress lines; finished() once the child is done.
  std::vector<std::string> read();
  bool finished() const { return finished_; }
  // Once finished: the body's result, or the child's exception thrown again here.
  nlohmann::json result() const;
  // Asks the child to stop (its running step's container is killed).
  void cancel() { cancel_.reset(); }
  // In a sibling forked later: closes this worker's fds there without waiting for anything.
  void close_in_child();

 private:
  StageWorker() = default;

  pid_t pid_ = -1;
  UniqueFd socket_;
  UniqueFd cancel_;  // the write end; closing it cancels
  std::string buffer_;
  bool finished_ = false;
  char end_ = 0;  // the type of the child's last frame: result, error or cancelled
  std::string end_payload_;
  int status_ = 0;  // the child's wait status
};

namespace detail {
// Frames on the socket: a type, the payload's length (4 bytes, host order), the payload.
constexpr char kStageProgress = 'P';
constexpr char kStageResult = 'R';
constexpr char kStageFailed = 'E';
constexpr char kStageCancelled = 'C';
constexpr std::size_t kFrameHeader = 1 + sizeof(std::uint32_t);

// MSG_NOSIGNAL: a parent that went away is an error of the send, not a SIGPIPE that would end
// the child before it released its containers.
inline void send_stage_frame(BorrowedFd fd, char type, std::string_view payload) {
  std::string frame(kFrameHeader, type);
  const auto size = static_cast<std::uint32_t>(payload.size());
  std::memcpy(frame.data() + 1, &size, sizeof size);
  frame.append(payload);
  std::string_view rest = frame;
  while (!rest.empty()) {
    const ssize_t n = ::send(fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    check(n, "send the progress of a build stage");
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

[[noreturn]] inline void run_stage_worker(
    BorrowedFd out, BorrowedFd cancel, const std::function<void()>& in_child,
    const std::function<nlohmann::json(const StageWorker::Child&)>& body) {
  char type = kStageFailed;
  std::string payload;
  try {
    in_child();
    const StageWorker::Child child{
        [out](std::string_view line) { send_stage_frame(out, kStageProgress, line); }, cancel};
    payload = body(child).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    type = kStageResult;
  } catch (const BuildCancelled&) {
    type = kStageCancelled;
  } catch (const Error& e) {
    payload = nlohmann::json{{"errno", e.errno_value()},
                             {"context", e.context()},
                             {"invalid", e.context() == e.what()}}
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    payload = nlohmann::json{{"errno", EIO}, {"context", e.what()}, {"invalid", true}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  try {
    send_stage_frame(out, type, payload);
  } catch (const Error&) {
    // The parent is gone: nobody is left to tell.
  }
  // No destructors of the parent's objects (its temporary directories) run in the child.
  ::_exit(0);
}

}  // namespace detail

inline std::unique_ptr<StageWorker> StageWorker::start(const std::function<void()>& in_child,
                                                       const Body& body) {
  std::array<int, 2> pair{};
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair.data()), "socketpair");
  UniqueFd mine(pair[0]);
  UniqueFd theirs(pair[1]);
  Pipe cancel = make_pipe();
  const pid_t pid = check(::fork(), "fork a build stage");
  if (pid == 0) {
    mine.reset();
    cancel.write.reset();
    detail::run_stage_worker(theirs.borrow(), cancel.read.borrow(), in_child, body);
  }
  std::unique_ptr<StageWorker> worker(new StageWorker());
  worker->pid_ = pid;
  worker->socket_ = std::move(mine);
  worker->cancel_ = std::move(cancel.write);
  return worker;
}

inline StageWorker::~StageWorker() {
  if (pid_ < 0) {
    return;
  }
  cancel_.reset();
  socket_.reset();
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

inline void StageWorker::close_in_child() {
  socket_.reset();
  cancel_.reset();
  pid_ = -1;
}

inline std::vector<std::string> StageWorker::read() {
  std::vector<std::string> lines;
  if (finished_) {
    return lines;
  }
  std::array<char, 65536> buf{};
  const ssize_t n = ::read(socket_.get(), buf.data(), buf.size());
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
    return lines;
  }
  check(n, "read the progress of a build stage");
  if (n == 0) {
    finished_ = true;
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return lines;
  }
  buffer_.append(buf.data(), static_cast<std::size_t>(n));
  std::size_t pos = 0;
  while (buffer_.size() - pos >= detail::kFrameHeader) {
    std::uint32_t size = 0;
    std::memcpy(&size, buffer_.data() + pos + 1, sizeof size);
    if (buffer_.size() - pos - detail::kFrameHeader < size) {
      break;
    }
    const char type = buffer_[pos];
    std::string payload = buffer_.substr(pos + detail::kFrameHeader, size);
    pos += detail::kFrameHeader + size;
    if (type == detail::kStageProgress) {
      lines.push_back(std::move(payload));
    } else {
      end_ = type;
      end_payload_ = std::move(payload);
    }
  }
  buffer_.erase(0, pos);
  return lines;
}

inline nlohmann::json StageWorker::result() const {
  if (end_ == detail::kStageResult) {
    return nlohmann::json::parse(end_payload_);
  }
  if (end_ == detail::kStageCancelled) {
    throw BuildCancelled();
  }
  if (end_ == detail::kStageFailed) {
    const nlohmann::json e = nlohmann::json::parse(end_payload_);
    const std::string context = e.value("context", "");
    if (e.value("invalid", true)) {
      throw Error::invalid(context);
    }
    throw Error(e.value("errno", EIO), context);
  }
  throw Error(EIO, fmt::format("a build stage's process ended without a result (wait status {:#x})",
                               status_));
}

}  // namespace gctool::build
