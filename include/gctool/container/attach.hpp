// Attaching to a detached container (`attach`), as conmon's attach socket does: its supervisor
// listens on a unix socket in the container's directory, copies to every client what it logs
// (the pty with -t, stdout and stderr otherwise) and writes what clients send to the container's
// stdin (the pty, or with -i the write end of a pipe that is the container's fd 0). Messages are
// SOCK_SEQPACKET packets whose first byte says what they carry, so that stdout, stderr and the
// exit code keep their boundaries without any framing code.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/container/log_format.hpp"
#include "gctool/core/fd.hpp"
#include "gctool/io/loop.hpp"
#include "gctool/io/task.hpp"

namespace gctool::container {

// The first byte of a packet on the attach socket.
enum class AttachPacket : char {
  Stdin = 0,   // client -> supervisor: bytes for the container's stdin
  Stdout = 1,  // supervisor -> client
  Stderr = 2,  // supervisor -> client
  Exit = 3,    // supervisor -> client: the exit code as decimal text; the socket closes after it
  Resize = 4,  // client -> supervisor: "ROWS COLS" for the pty
  Signal = 5,  // client -> supervisor: the signal number as decimal text, sent to pid 1
  CloseStdin = 6,  // client -> supervisor: the end of input; closes the stdin pipe (no tty)
};

// <container_dir>/attach
std::filesystem::path attach_socket_path(const std::filesystem::path& container_dir);

// A listening socket at attach_socket_path(dir) (a stale one is replaced), bound through
// /proc/self/fd so that a long --root does not overflow sun_path.
UniqueFd listen_attach_socket(const std::filesystem::path& container_dir);

// The supervisor's side: accepts clients on the loop, forwards their input and fans the
// container's output out to them. A slow client slows the container's output, as Docker's attach
// does, but never loses the log.
class AttachServer {
 public:
  // input: the pty master when tty (a copy of it), else the write end of the container's stdin
  // (-i) or invalid; pidfd: pid 1, for the signals clients proxy.
  AttachServer(UniqueFd listener, UniqueFd input, bool tty, BorrowedFd pidfd);
  AttachServer(const AttachServer&) = delete;
  AttachServer& operator=(const AttachServer&) = delete;
  ~AttachServer();

  // Starts accepting clients on loop.
  void serve(io::Loop& loop);
  // Sends output to every client (dropping those that have gone).
  io::Task<void> broadcast(io::Loop& loop, LogStream stream, std::string_view data);
  // Sends the exit code to every client, closes them and stops accepting.
  io::Task<void> finish(io::Loop& loop, int exit_code);

 private:
  struct Client;
  io::Task<void> accept_loop(io::Loop& loop);
  void add_client(io::Loop& loop, UniqueFd fd);
  io::Task<void> read_client(io::Loop& loop, std::shared_ptr<Client> client);
  io::Task<void> send(io::Loop& loop, const std::shared_ptr<Client>& client, AttachPacket kind,
                      std::string_view data);

  UniqueFd listener_;
  UniqueFd input_;
  bool tty_;
  BorrowedFd pidfd_;
  io::Loop* loop_ = nullptr;
  io::SpawnId acceptor_{};
  std::vector<std::shared_ptr<Client>> clients_;
};

// Docker's --detach-keys: "ctrl-p,ctrl-q" (ctrl- with a-z, @, [, \, ], ^ or _, or one
// character). Throws an invalid-input Error naming the text otherwise.
std::string parse_detach_keys(std::string_view text);
inline constexpr std::string_view kDefaultDetachKeys = "ctrl-p,ctrl-q";

// Watches a stream of input for the detach sequence: what feed() returns is what may be sent on,
// holding back a partial match until it completes (detached() turns true) or fails.
class DetachKeys {
 public:
  explicit DetachKeys(std::string keys) : keys_(std::move(keys)) {}
  std::string feed(std::string_view input);
  bool detached() const noexcept { return detached_; }

 private:
  std::string keys_;
  std::size_t matched_ = 0;
  bool detached_ = false;
};

struct AttachOptions {
  bool stdin = true;      // relay fd 0 to the container (when it has -i)
  bool sig_proxy = true;  // forward the signals this process gets (not with a tty, as Docker)
  // Already parsed; as Docker's CopyStreams, only a tty watches for them (without one they are
  // input like any other).
  std::string detach_keys = std::string(kDefaultDetachKeys);
  // `run -i`: the end of our input is the end of the container's, as the foreground relay does:
  // the terminal's EOF character (^D) with a tty, else its stdin pipe is closed. `attach` leaves
  // the container's stdin open.
  bool eof_ends_input = false;
  // run -a: which of the container's streams reach this process's fds 1 and 2.
  bool show_out = true;
  bool show_err = true;
};

// Connects to the attach socket of the container in container_dir: a container whose supervisor
// listens but has not accepted yet (`run -it` before the start) takes the client in first.
// Throws an invalid-input Error when nobody listens (the container does not run).
UniqueFd connect_attach_socket(const std::filesystem::path& container_dir);

// The client's side: connects to the running container's supervisor and relays until the
// container exits (its exit code) or the detach keys are typed (nullopt). With a tty and a
// terminal on fd 0, the terminal is raw meanwhile. Throws when the container is not running.
std::optional<int> attach_session(const std::filesystem::path& container_dir, bool tty,
                                  bool open_stdin, const AttachOptions& options);
// The same over a socket connect_attach_socket() returned.
std::optional<int> attach_session(UniqueFd sock, bool tty, bool open_stdin,
                                  const AttachOptions& options);

}  // namespace gctool::container
