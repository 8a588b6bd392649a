#include "gctool/net/dns_message.hpp"

#include <algorithm>

namespace gctool::net::dns {
namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::size_t kMaxName = 255;

std::uint16_t read16(std::span<const std::uint8_t> m, std::size_t at) {
  return static_cast<std::uint16_t>((m[at] << 8) | m[at + 1]);
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}

}  // namespace

std::optional<Query> parse_query(std::span<const std::uint8_t> m) {
  if (m.size() < kHeaderSize) {
    return std::nullopt;
  }
  const std::uint16_t flags = read16(m, 2);
  const bool is_response = (flags & 0x8000) != 0;
  const unsigned opcode = (flags >> 11) & 0xf;
  if (is_response || opcode != 0 || read16(m, 4) != 1 || read16(m, 6) != 0 || read16(m, 8) != 0) {
    return std::nullopt;
  }
  Query q;
  q.id = read16(m, 0);
  q.recursion_desired = (flags & 0x0100) != 0;
  std::size_t at = kHeaderSize;
  std::size_t wire_length = 1;  // the final zero label
  for (;;) {
    if (at >= m.size()) {
      return std::nullopt;
    }
    const std::uint8_t len = m[at++];
    if (len == 0) {
      break;
    }
    if (len > 63 || at + len > m.size()) {
      return std::nullopt;  // a compression pointer, a reserved label type, or past the end
    }
    wire_length += 1 + len;
    if (wire_length > kMaxName) {
      return std::nullopt;
    }
    if (!q.name.empty()) {
      q.name += '.';
    }
    for (std::size_t i = 0; i < len; ++i) {
      const char c = static_cast<char>(m[at + i]);
      q.name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    at += len;
  }
  if (at + 4 > m.size()) {
    return std::nullopt;
  }
  q.type = read16(m, at);
  q.klass = read16(m, at + 2);
  q.question_end = at + 4;
  return q;
}

namespace {

// The response with `count` answers of `type`, each record's data written by put_data(out, i):
// as many as fit in `limit`, and the TC bit when some did not.
template <typename PutData>
std::vector<std::uint8_t> build_answers(std::span<const std::uint8_t> message, const Query& query,
                                        Rcode rcode, std::size_t count, std::uint16_t type,
                                        std::uint16_t data_size, PutData put_data,
                                        std::uint32_t ttl, std::size_t limit) {
  std::vector<std::uint8_t> out;
  // pointer, type, class, ttl, length, data
  const std::size_t record_size = 12 + std::size_t{data_size};
  const std::size_t room =
      limit > query.question_end ? (limit - query.question_end) / record_size : 0;
  const std::size_t fitting = std::min(count, room);
  const bool truncated = fitting < count;
  out.reserve(query.question_end + fitting * record_size);
  put16(out, query.id);
  // QR, opcode 0, AA, TC, RD copied; RA; rcode.
  std::uint16_t flags = 0x8000 | 0x0400 | 0x0080 | static_cast<std::uint16_t>(rcode);
  if (truncated) {
    flags |= 0x0200;
  }
  if (query.recursion_desired) {
    flags |= 0x0100;
  }
  put16(out, flags);
  put16(out, 1);
  put16(out, static_cast<std::uint16_t>(fitting));
  put16(out, 0);
  put16(out, 0);
  out.insert(out.end(), message.begin() + kHeaderSize, message.begin() + query.question_end);
  for (std::size_t i = 0; i < fitting; ++i) {
    put16(out, 0xc000 | kHeaderSize);  // the name: a pointer to the question's
    put16(out, type);
    put16(out, kClassIN);
    put32(out, ttl);
    put16(out, data_size);
    put_data(out, i);
  }
  return out;
}

}  // namespace

std::vector<std::uint8_t> build_response(std::span<const std::uint8_t> message, const Query& query,
                                         Rcode rcode, std::span<const Ipv4Address> addresses,
                                         std::uint32_t ttl, std::size_t limit) {
  return build_answers(
      message, query, rcode, addresses.size(), kTypeA, 4,
      [&](std::vector<std::uint8_t>& out, std::size_t i) { put32(out, addresses[i].value); }, ttl,
      limit);
}

std::vector<std::uint8_t> build_response(std::span<const std::uint8_t> message, const Query& query,
                                         Rcode rcode, std::span<const Ipv6Address> addresses,
                                         std::uint32_t ttl, std::size_t limit) {
  return build_answers(
      message, query, rcode, addresses.size(), kTypeAAAA, 16,
      [&](std::vector<std::uint8_t>& out, std::size_t i) {
        out.insert(out.end(), addresses[i].bytes.begin(), addresses[i].bytes.end());
      },
      ttl, limit);
}

std::uint16_t message_id(std::span<const std::uint8_t> message) {
  return message.size() < 2 ? 0 : read16(message, 0);
}

bool is_truncated(std::span<const std::uint8_t> message) {
  return message.size() >= kHeaderSize && (message[2] & 0x02) != 0;
}

std::size_t udp_limit(std::span<const std::uint8_t> message, const Query& query) {
  constexpr std::uint16_t kTypeOpt = 41;
  const std::size_t at = query.question_end;
  // The OPT record: the root name (one zero byte), type 41, then the payload size as its class.
  if (message.size() < kHeaderSize || read16(message, 10) == 0 || at + 5 > message.size() ||
      message[at] != 0 || read16(message, at + 1) != kTypeOpt) {
    return kUdpLimit;
  }
  return std::clamp<std::size_t>(read16(message, at + 3), kUdpLimit, kMaxUdpLimit);
}

std::vector<std::uint8_t> truncated_response(std::span<const std::uint8_t> message,
                                             const Query& query) {
  auto out = build_response(message, query, Rcode::ok, std::span<const Ipv4Address>(), 0,
                            query.question_end);
  out[2] |= 0x02;
  return out;
}

}  // namespace gctool::net::dns
