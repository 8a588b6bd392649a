// The one error convention of gctool: library code throws gctool::Error, a std::system_error that
// carries the errno and a context naming the operation and the paths involved. Only src/tool
// prints.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <fmt/std.h>  // paths in error contexts print quoted

namespace gctool {

class Error : public std::system_error {
 public:
  // what() is "<context>: <strerror(err)>", e.g. `mount overlay on "/x/merged": Invalid argument`.
  Error(int err, std::string context)
      : std::system_error(err, std::generic_category()),
        context_(std::move(context)),
        message_(context_ + ": " + std::generic_category().message(err)) {}

  // Bad input: what() is the message alone, the code is EINVAL.
  static Error invalid(std::string message) { return Error(std::move(message)); }

  const char* what() const noexcept override { return message_.c_str(); }
  int errno_value() const noexcept { return code().value(); }
  const std::string& context() const noexcept { return context_; }

 private:
  explicit Error(std::string message)
      : std::system_error(EINVAL, std::generic_category()),
        context_(message),
        message_(std::move(message)) {}

  std::string context_;
  std::string message_;
};

// A pending operation was cancelled (io_uring's -ECANCELED): not a failure of the operation.
class Cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "operation cancelled"; }
};

// Throws Error with the current errno and a formatted context.
template <typename... Args>
[[noreturn]] void throw_errno(fmt::format_string<Args...> fmt_str, Args&&... args) {
  const int err = errno;
  throw Error(err, fmt::format(fmt_str, std::forward<Args>(args)...));
}

// Throws an invalid-input Error with a formatted message.
template <typename... Args>
[[noreturn]] void throw_invalid(fmt::format_string<Args...> fmt_str, Args&&... args) {
  throw Error::invalid(fmt::format(fmt_str, std::forward<Args>(args)...));
}

// Returns rc when it is not negative; otherwise throws Error with errno and the context, which is
// only formatted on failure.
template <typename T, typename... Args>
T check(T rc, fmt::format_string<Args...> fmt_str, Args&&... args) {
  if (rc < 0) {
    throw_errno(fmt_str, std::forward<Args>(args)...);
  }
  return rc;
}

// For APIs that return -errno (io_uring, liburing, netlink): throws when rc is negative.
template <typename T, typename... Args>
T check_neg(T rc, fmt::format_string<Args...> fmt_str, Args&&... args) {
  if (rc < 0) {
    throw Error(static_cast<int>(-rc), fmt::format(fmt_str, std::forward<Args>(args)...));
  }
  return rc;
}

}  // namespace gctool
