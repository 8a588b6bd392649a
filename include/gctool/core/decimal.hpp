// Exact parsing of non-negative decimal numbers ("1.5", ".25", "64") into scaled integers, shared
// by the parsers of sizes, CPU counts and durations.
#pragma once

#include <cstdint>
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

}  // namespace gctool
