// A small rtnetlink client: builds requests attribute by attribute, sends them, and turns the
// kernel's ack into success or a gctool::Error naming the operation (with the kernel's extended
// ack message when it gives one). A socket works on the network namespace it was created in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/core/fd.hpp"

namespace gctool::net {

// One request: a netlink header, a family header (ifinfomsg, ifaddrmsg, rtmsg) and attributes.
class NetlinkRequest {
 public:
  NetlinkRequest(std::uint16_t type, std::uint16_t flags);

  // Appends the family header; call once, before any attribute.
  template <typename T>
  void put_header(const T& header) {
    append(&header, sizeof header);
  }

  void add(std::uint16_t type, const void* data, std::size_t size);
  void add_string(std::uint16_t type, std::string_view value);  // NUL-terminated
  void add_u32(std::uint16_t type, std::uint32_t value) { add(type, &value, sizeof value); }
  // Starts a nested attribute; pass the returned offset to end_nested.
  std::size_t begin_nested(std::uint16_t type);
  void end_nested(std::size_t offset);

  std::uint16_t type() const;
  // The finished message with this sequence number.
  std::string_view finish(std::uint32_t seq);

 private:
  void append(const void* data, std::size_t size);
  std::string buf_;
};

// Attributes of a message by type (the last one wins); views into the message.
std::map<std::uint16_t, std::string_view> parse_attributes(std::string_view data);

class Netlink {
 public:
  // A NETLINK_ROUTE socket in the calling thread's network namespace.
  Netlink();
  // A socket in the namespace `netns` (entered only while the socket is created).
  static Netlink in_netns(BorrowedFd netns);

  // Sends the request with NLM_F_ACK and waits for the ack. Throws Error(errno, what) on a
  // negative ack, e.g. `create bridge "gct-1": File exists`.
  void execute(NetlinkRequest& request, std::string_view what);

  // Sends a NLM_F_DUMP request; returns the payload (after the nlmsghdr) of each reply.
  std::vector<std::string> dump(NetlinkRequest& request, std::string_view what);

 private:
  explicit Netlink(UniqueFd fd) : fd_(std::move(fd)) {}
  std::string receive(std::string_view what);

  UniqueFd fd_;
  std::uint32_t seq_ = 0;
};

}  // namespace gctool::net
