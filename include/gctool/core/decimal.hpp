// Exact parsing of non-negative decimal numbers ("1.5", ".25", "64") into scaled integers, shared
// by the parsers of sizes, CPU counts and durations.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace gctool {

// A non-negative decimal number at the front of some text, split into its parts.
struct DecimalPrefix {
  std::string_view whole;     // digits before the point; may be empty (".5")
  std::string_view fraction;  // digits after the point
  std::string_view rest;      // the text after the number
  bool valid = false;         // false when the text does not start with a number ("", ".", "1.")
};

DecimalPrefix split_decimal(std::string_view text);

// whole * scale + fraction * scale / 10^digits, rounded down; nullopt beyond int64. scale is
// positive.
std::optional<std::int64_t> scale_decimal(const DecimalPrefix& number, std::int64_t scale);

// The definitions: header-only, as all of gctool::core.
namespace detail {

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

inline std::string_view take_digits(std::string_view text) {
  const auto end = std::find_if_not(text.begin(), text.end(), is_digit);
  return text.substr(0, static_cast<std::size_t>(end - text.begin()));
}

}  // namespace detail

inline DecimalPrefix split_decimal(std::string_view text) {
  DecimalPrefix d;
  d.whole = detail::take_digits(text);
  text.remove_prefix(d.whole.size());
  if (text.starts_with('.')) {
    d.fraction = detail::take_digits(text.substr(1));
    // "1." and "." are not numbers; ".5" is, as in Go's parsers that Docker uses.
    if (d.fraction.empty()) {
      return d;
    }
    text.remove_prefix(1 + d.fraction.size());
  }
  d.rest = text;
  d.valid = !d.whole.empty() || !d.fraction.empty();
  return d;
}

inline std::optional<std::int64_t> scale_decimal(const DecimalPrefix& number, std::int64_t scale) {
  // 128 bits hold whole (capped at 2^63) times any int64 scale, and 18 fraction digits (< 2^60)
  // times it.
  constexpr __int128 limit = std::numeric_limits<std::int64_t>::max();
  __int128 whole = 0;
  for (const char c : number.whole) {
    whole = whole * 10 + (c - '0');
    if (whole > limit) {
      return std::nullopt;
    }
  }
  __int128 numerator = 0;
  __int128 denominator = 1;
  // Further digits change the result by less than scale / 10^18, below one unit for any
  // scale used here.
  for (const char c : number.fraction.substr(0, 18)) {
    numerator = numerator * 10 + (c - '0');
    denominator *= 10;
  }
  const __int128 value = whole * scale + numerator * scale / denominator;
  if (value > limit) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(value);
}

}  // namespace gctool
