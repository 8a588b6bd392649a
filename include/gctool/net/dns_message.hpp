// The DNS message codec of gctool's resolver (RFC 1035): parsing a query's header and question,
// and building the answer to it. Parsing takes untrusted bytes (anything a container sends to its
// network's resolver): every read is bounds-checked and whatever is not a well-formed query is
// nullopt, never a crash. Only what the resolver needs: one question per message, A and AAAA
// answers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gctool/net/ipv4.hpp"
#include "gctool/net/ipv6.hpp"

namespace gctool::net::dns {

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeAAAA = 28;
inline constexpr std::uint16_t kClassIN = 1;
inline constexpr std::size_t kUdpLimit = 512;  // without EDNS (RFC 1035 4.2.1)

enum class Rcode : std::uint8_t { ok = 0, format_error = 1, server_failure = 2, name_error = 3 };

struct Query {
  std::uint16_t id = 0;
  bool recursion_desired = false;
  std::string name;  // lower case, without the final dot; "" is the root
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::size_t question_end = 0;  // offset just past the question in the message
};

// A query with exactly one question, or nullopt (a response, another opcode, a truncated or
// malformed message, a name over 255 bytes or with compression pointers).
std::optional<Query> parse_query(std::span<const std::uint8_t> message);

// The response to `query` (whose bytes are `message`): its question echoed, then one A record
// per address with `ttl`. When the result would exceed `limit` bytes, the answers that do not fit
// are left out and the TC bit is set (the client retries over TCP).
std::vector<std::uint8_t> build_response(std::span<const std::uint8_t> message, const Query& query,
                                         Rcode rcode, std::span<const Ipv4Address> addresses,
                                         std::uint32_t ttl, std::size_t limit);
// The same with one AAAA record per address.
std::vector<std::uint8_t> build_response(std::span<const std::uint8_t> message, const Query& query,
                                         Rcode rcode, std::span<const Ipv6Address> addresses,
                                         std::uint32_t ttl, std::size_t limit);

// The id of a message (0 when shorter than two bytes): a forwarded answer must carry the query's.
std::uint16_t message_id(std::span<const std::uint8_t> message);

// Whether a message has the TC bit: the answer was cut to fit UDP, the full one is over TCP.
bool is_truncated(std::span<const std::uint8_t> message);

// The largest UDP answer the asker of `query` accepts: the payload size of an EDNS OPT record
// right after the question (RFC 6891), between 512 and kMaxUdpLimit; 512 without one.
inline constexpr std::size_t kMaxUdpLimit = 4096;
std::size_t udp_limit(std::span<const std::uint8_t> message, const Query& query);

// The answer to `query` with no records and the TC bit set: what a UDP asker gets when the
// answer is larger than udp_limit (it asks again over TCP).
std::vector<std::uint8_t> truncated_response(std::span<const std::uint8_t> message,
                                             const Query& query);

}  // namespace gctool::net::dns
