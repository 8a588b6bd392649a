// Runs a callable when the scope ends, unless release()d. For resources without an RAII type.
#pragma once

#include <utility>

namespace gctool {

template <typename F>
class [[nodiscard]] ScopeExit {
 public:
  explicit ScopeExit(F f) noexcept(noexcept(F(std::move(f)))) : f_(std::move(f)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() {
    if (armed_) {
      f_();
    }
  }
  void release() noexcept { armed_ = false; }

 private:
  F f_;
  bool armed_ = true;
};

template <typename F>
ScopeExit(F) -> ScopeExit<F>;

}  // namespace gctool
