// A forward-only reader of JSON text that picks a few members out of a document without building
// it: what is not asked for is skipped unparsed. `ps` reads a thousand records with it in the time
// nlohmann/json needs for a hundred. Any input it does not expect (malformed, a value of another
// type, a fraction where an integer belongs) throws JsonScanError; callers fall back to the full
// parser, which says what is wrong.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "gctool/core/text.hpp"

namespace gctool {

struct JsonScanError : std::runtime_error {
  JsonScanError() : std::runtime_error("unexpected JSON") {}
};

class JsonScanner {
 public:
  explicit JsonScanner(std::string_view text) : text_(text) {}

  // Calls on_member(key) for each member of the object at the cursor; it must consume the value
  // (read it or skip() it).
  template <class OnMember>
  void object(OnMember&& on_member) {
    expect('{');
    if (consume('}')) {
      return;
    }
    do {
      const std::string_view key = key_view();
      expect(':');
      on_member(key);
    } while (consume(','));
    expect('}');
  }

  // Calls on_element() for each element of the array at the cursor; it must consume the element.
  template <class OnElement>
  void array(OnElement&& on_element) {
    expect('[');
    if (consume(']')) {
      return;
    }
    do {
      on_element();
    } while (consume(','));
    expect(']');
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      const auto end = quote_or_backslash();
      out.append(text_.substr(pos_, end - pos_));
      pos_ = end + 1;
      if (text_[end] == '"') {
        return out;
      }
      escape(out);
    }
  }

  bool boolean() {
    if (literal("true")) {
      return true;
    }
    if (literal("false")) {
      return false;
    }
    fail();
  }

  // Consumes a null if one is next.
  bool null() { return literal("null"); }

  std::int64_t integer() {
    skip_space();
    const bool negative = pos_ < text_.size() && text_[pos_] == '-';
    pos_ += negative ? 1 : 0;
    const std::uint64_t magnitude = digits();
    if (magnitude > (negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1)) {
      fail();
    }
    return negative ? static_cast<std::int64_t>(0 - magnitude)
                    : static_cast<std::int64_t>(magnitude);
  }

  std::uint64_t unsigned_integer() {
    skip_space();
    return digits();
  }

  // Skips the value at the cursor and returns its text.
  std::string_view raw() {
    skip_space();
    const auto start = pos_;
    skip();
    return text_.substr(start, pos_ - start);
  }

  void skip() {
    skip_space();
    if (pos_ >= text_.size()) {
      fail();
    }
    switch (text_[pos_]) {
      case '{':
        object([&](std::string_view) { skip(); });
        return;
      case '[':
        array([&] { skip(); });
        return;
      case '"':
        skip_string();
        return;
      case 't':
      case 'f':
        boolean();
        return;
      case 'n':
        if (!null()) {
          fail();
        }
        return;
      default:
        skip_number();
    }
  }

  // Only white space is left.
  void end() {
    skip_space();
    if (pos_ != text_.size()) {
      fail();
    }
  }

 private:
  [[noreturn]] static void fail() { throw JsonScanError(); }

  // The position of the next '"' or '\\' from the cursor. A plain loop: find_first_of calls
  // memchr over its set for every character, which was a fifth of `ps` with many containers.
  std::size_t quote_or_backslash() const {
    for (std::size_t i = pos_; i < text_.size(); ++i) {
      if (text_[i] == '"' || text_[i] == '\\') {
        return i;
      }
    }
    fail();
  }

  // A member's key: a view of the text when it has no escape (every key of ours), else decoded
  // into key_ (valid until the next key).
  std::string_view key_view() {
    expect('"');
    const auto start = pos_;
    const auto end = quote_or_backslash();
    if (text_[end] == '"') {
      pos_ = end + 1;
      return text_.substr(start, end - start);
    }
    --pos_;
    key_ = string();
    return key_;
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!consume(c)) {
      fail();
    }
  }

  bool literal(std::string_view word) {
    skip_space();
    if (text_.substr(pos_, word.size()) != word) {
      return false;
    }
    pos_ += word.size();
    return true;
  }

  std::uint64_t digits() {
    const auto start = pos_;
    std::uint64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (value > (UINT64_MAX - digit) / 10) {
        fail();
      }
      value = value * 10 + digit;
      ++pos_;
    }
    // No digits, a leading zero, or a fraction or exponent: not an integer of ours.
    if (pos_ == start || (text_[start] == '0' && pos_ - start > 1) ||
        (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E'))) {
      fail();
    }
    return value;
  }

  void skip_number() {
    const auto start = pos_;
    while (pos_ < text_.size() &&
           ((text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '+' ||
            text_[pos_] == '-' || text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
    }
    if (pos_ == start) {
      fail();
    }
  }

  void skip_string() {
    ++pos_;
    for (;;) {
      const auto end = quote_or_backslash();
      pos_ = end + 1;
      if (text_[end] == '"') {
        return;
      }
      ++pos_;  // the escaped character; a \u's digits are plain characters
    }
  }

  unsigned hex4() {
    if (pos_ + 4 > text_.size()) {
      fail();
    }
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        fail();
      }
    }
    return value;
  }

  // After a backslash: appends the character it stands for (UTF-8 for \u, pairs joined).
  void escape(std::string& out) {
    if (pos_ >= text_.size()) {
      fail();
    }
    const char c = text_[pos_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out += c;
        return;
      case 'b':
        out += '\b';
        return;
      case 'f':
        out += '\f';
        return;
      case 'n':
        out += '\n';
        return;
      case 'r':
        out += '\r';
        return;
      case 't':
        out += '\t';
        return;
      case 'u':
        break;
      default:
        fail();
    }
    unsigned code = hex4();
    if (code >= 0xDC00 && code <= 0xDFFF) {
      fail();
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") {
        fail();
      }
      pos_ += 2;
      const unsigned low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        fail();
      }
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, code);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string key_;
};

}  // namespace gctool
