#include "gctool/net/netlink.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "gctool/core/error.hpp"
#include "gctool/net/netns.hpp"

namespace gctool::net {
namespace {

constexpr std::size_t align4(std::size_t n) {
  return (n + 3) & ~std::size_t{3};
}

nlmsghdr read_header(std::string_view data) {
  nlmsghdr h;
  std::memcpy(&h, data.data(), sizeof h);
  return h;
}

// Splits a receive buffer into messages.
std::vector<std::string_view> split_messages(std::string_view buf) {
  std::vector<std::string_view> out;
  while (buf.size() >= sizeof(nlmsghdr)) {
    const auto h = read_header(buf);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > buf.size()) {
      break;
    }
    out.push_back(buf.substr(0, h.nlmsg_len));
    buf.remove_prefix(std::min(buf.size(), align4(h.nlmsg_len)));
  }
  return out;
}

// The errno of an NLMSG_ERROR message (0 for an ack) and the kernel's extended message, if any.
std::pair<int, std::string> parse_error(std::string_view message) {
  const auto h = read_header(message);
  nlmsgerr err;
  if (message.size() < sizeof h + sizeof err) {
    return {EPROTO, "truncated netlink error"};
  }
  std::memcpy(&err, message.data() + sizeof h, sizeof err);
  std::string text;
  if (err.error != 0 && (h.nlmsg_flags & NLM_F_ACK_TLVS) != 0) {
    std::size_t offset = sizeof h + sizeof err;
    if ((h.nlmsg_flags & NLM_F_CAPPED) == 0) {
      offset += align4(err.msg.nlmsg_len) - sizeof(nlmsghdr);
    }
    if (offset < message.size()) {
      const auto attrs = parse_attributes(message.substr(offset));
      if (const auto it = attrs.find(NLMSGERR_ATTR_MSG); it != attrs.end()) {
        text = std::string(it->second.data(), strnlen(it->second.data(), it->second.size()));
      }
    }
  }
  return {-err.error, text};
}

[[noreturn]] void throw_netlink(int err, std::string_view what, const std::string& kernel_text) {
  if (kernel_text.empty()) {
    throw Error(err, std::string(what));
  }
  throw Error(err, fmt::format("{} ({})", what, kernel_text));
}

}  // namespace

NetlinkRequest::NetlinkRequest(std::uint16_t type, std::uint16_t flags) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
  append(&h, sizeof h);
}

void NetlinkRequest::append(const void* data, std::size_t size) {
  buf_.append(static_cast<const char*>(data), size);
  buf_.resize(align4(buf_.size()), '\0');
}

void NetlinkRequest::add(std::uint16_t type, const void* data, std::size_t size) {
  rtattr a{};
  a.rta_type = type;
  a.rta_len = static_cast<unsigned short>(sizeof a + size);
  buf_.append(reinterpret_cast<const char*>(&a), sizeof a);
  append(data, size);
}

void NetlinkRequest::add_string(std::uint16_t type, std::string_view value) {
  std::string z(value);
  add(type, z.c_str(), z.size() + 1);
}

std::size_t NetlinkRequest::begin_nested(std::uint16_t type) {
  const std::size_t offset = buf_.size();
  add(type, nullptr, 0);
  return offset;
}

void NetlinkRequest::end_nested(std::size_t offset) {
  rtattr a;
  std::memcpy(&a, buf_.data() + offset, sizeof a);
  a.rta_len = static_cast<unsigned short>(buf_.size() - offset);
  std::memcpy(buf_.data() + offset, &a, sizeof a);
}

std::uint16_t NetlinkRequest::type() const {
  return read_header(buf_).nlmsg_type;
}

std::string_view NetlinkRequest::finish(std::uint32_t seq) {
  auto h = read_header(buf_);
  h.nlmsg_len = static_cast<std::uint32_t>(buf_.size());
  h.nlmsg_seq = seq;
  std::memcpy(buf_.data(), &h, sizeof h);
  return buf_;
}

std::map<std::uint16_t, std::string_view> parse_attributes(std::string_view data) {
  std::map<std::uint16_t, std::string_view> attrs;
  while (data.size() >= sizeof(rtattr)) {
    rtattr a;
    std::memcpy(&a, data.data(), sizeof a);
    if (a.rta_len < sizeof a || a.rta_len > data.size()) {
      break;
    }
    attrs[static_cast<std::uint16_t>(a.rta_type & NLA_TYPE_MASK)] =
        data.substr(sizeof a, a.rta_len - sizeof a);
    data.remove_prefix(std::min(data.size(), align4(a.rta_len)));
  }
  return attrs;
}

Netlink::Netlink() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) {
    throw_errno("open rtnetlink socket");
  }
  const int one = 1;
  // Extended acks carry the kernel's reason; capped acks do not echo our request back.
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  check(::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local),
        "bind rtnetlink socket");
  fd_ = std::move(fd);
}

Netlink Netlink::in_netns(BorrowedFd netns) {
  const NetNsGuard guard(netns);
  return Netlink();
}

std::string Netlink::receive(std::string_view what) {
  std::string buf(64 * 1024, '\0');
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n >= 0) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (errno != EINTR) {
      throw_errno("{}: receive netlink reply", what);
    }
  }
}

void Netlink::execute(NetlinkRequest& request, std::string_view what) {
  const std::uint32_t seq = ++seq_;
  const auto message = request.finish(seq);
  // The flags were set at construction; ask for an ack through the header we send.
  std::string data(message);
  auto h = read_header(data);
  h.nlmsg_flags |= NLM_F_ACK;
  std::memcpy(data.data(), &h, sizeof h);
  check(::send(fd_.get(), data.data(), data.size(), 0), "{}: send netlink request", what);
  for (;;) {
    const auto buf = receive(what);
    for (const auto reply : split_messages(buf)) {
      const auto rh = read_header(reply);
      if (rh.nlmsg_seq != seq || rh.nlmsg_type != NLMSG_ERROR) {
        continue;
      }
      const auto [err, text] = parse_error(reply);
      if (err != 0) {
        throw_netlink(err, what, text);
      }
      return;
    }
  }
}

std::vector<std::string> Netlink::dump(NetlinkRequest& request, std::string_view what) {
  const std::uint32_t seq = ++seq_;
  std::string data(request.finish(seq));
  auto h = read_header(data);
  h.nlmsg_flags |= NLM_F_DUMP;
  std::memcpy(data.data(), &h, sizeof h);
  check(::send(fd_.get(), data.data(), data.size(), 0), "{}: send netlink request", what);
  std::vector<std::string> out;
  for (;;) {
    const auto buf = receive(what);
    for (const auto reply : split_messages(buf)) {
      const auto rh = read_header(reply);
      if (rh.nlmsg_seq != seq) {
        continue;
      }
      if (rh.nlmsg_type == NLMSG_DONE) {
        return out;
      }
      if (rh.nlmsg_type == NLMSG_ERROR) {
        const auto [err, text] = parse_error(reply);
        throw_netlink(err != 0 ? err : EPROTO, what, text);
      }
      out.emplace_back(reply.substr(sizeof(nlmsghdr)));
    }
  }
}

}  // namespace gctool::net
