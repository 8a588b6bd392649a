// The progress line of long `image load`s: drawn on stderr only when stdout and stderr are
// terminals, redrawn in place at most ten times a second, erased when done.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "gctool/core/units.hpp"
#include "gctool/image/load.hpp"

namespace gctool::tool {

class LoadProgressBar {
 public:
  explicit LoadProgressBar(bool quiet) : enabled_(!quiet && ::isatty(1) && ::isatty(2)) {}
  LoadProgressBar(const LoadProgressBar&) = delete;
  LoadProgressBar& operator=(const LoadProgressBar&) = delete;
  ~LoadProgressBar() { clear(); }

  bool enabled() const { return enabled_; }

  void update(const image::LoadProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool new_step = p.step != last_.step || p.layer != last_.layer;
    const bool done = p.total_bytes != 0 && p.bytes == p.total_bytes;
    if (!new_step && !done && now - drawn_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = p;
    drawn_ = now;
    const std::string what = p.step == image::LoadProgress::Step::archive
                                 ? std::string("Reading archive")
                                 : fmt::format("Loading layer {}/{}", p.layer, p.layers);
    std::string bar;
    std::string amount = format_bytes(static_cast<std::int64_t>(p.bytes));
    if (p.total_bytes != 0) {
      constexpr std::uint64_t width = 30;
      const std::uint64_t filled = std::min(width, p.bytes * width / p.total_bytes);
      bar = fmt::format(" [{}{}]", std::string(filled, '='), std::string(width - filled, ' '));
      amount += "/" + format_bytes(static_cast<std::int64_t>(p.total_bytes));
    }
    fmt::print(stderr, "\r\033[K{}{} {}", what, bar, amount);
    std::fflush(stderr);
    shown_ = true;
  }

  // Erases the line, before the result is printed.
  void clear() {
    if (shown_) {
      fmt::print(stderr, "\r\033[K");
      std::fflush(stderr);
      shown_ = false;
    }
  }

 private:
  bool enabled_;
  bool shown_ = false;
  image::LoadProgress last_{image::LoadProgress::Step::archive, 0, 0, 0, 0};
  std::chrono::steady_clock::time_point drawn_{};
};

}  // namespace gctool::tool
