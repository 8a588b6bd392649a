// parse_signal and signal_name of units.hpp: Linux signal names with and without "SIG", any case,
// numbers, and the real-time signals as RTMIN+n / RTMAX-n (kill -l's spelling).
#include <csignal>
#include <optional>
#include <string>

#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"
#include "gctool/core/units.hpp"

namespace gctool {

namespace {

struct NamedSignal {
  std::string_view name;  // without "SIG"
  int number;
};

// The first entry for a number is its canonical name; later ones are aliases.
constexpr NamedSignal named_signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
    {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},  {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

// The kernel's highest signal (_NSIG - 1); glibc's SIGRTMAX is the same on Linux.
constexpr int max_signal = 64;

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// A small decimal number making up all of text; nullopt otherwise.
std::optional<int> small_number(std::string_view text) {
  if (text.empty() || text.size() > 3) {
    return std::nullopt;
  }
  int value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<int> realtime_signal(std::string_view name) {
  // glibc reserves the first real-time signals for itself; SIGRTMIN is the first one left.
  const int rtmin = SIGRTMIN;
  const int rtmax = SIGRTMAX;
  std::optional<int> signal;
  if (iequals(name, "RTMIN")) {
    signal = rtmin;
  } else if (iequals(name, "RTMAX")) {
    signal = rtmax;
  } else if (istarts_with(name, "RTMIN+")) {
    if (const auto n = small_number(name.substr(6))) {
      signal = rtmin + *n;
    }
  } else if (istarts_with(name, "RTMAX-")) {
    if (const auto n = small_number(name.substr(6))) {
      signal = rtmax - *n;
    }
  }
  if (signal && (*signal < rtmin || *signal > rtmax)) {
    return std::nullopt;
  }
  return signal;
}

}  // namespace

int parse_signal(std::string_view text) {
  if (const auto number = small_number(text)) {
    if (*number >= 1 && *number <= max_signal) {
      return *number;
    }
    throw_invalid("invalid signal \"{}\"", text);
  }
  std::string_view name = text;
  if (istarts_with(name, "SIG")) {
    name.remove_prefix(3);
  }
  for (const NamedSignal& s : named_signals) {
    if (iequals(name, s.name)) {
      return s.number;
    }
  }
  if (const auto signal = realtime_signal(name)) {
    return *signal;
  }
  throw_invalid("invalid signal \"{}\"", text);
}

std::string signal_name(int signal) {
  for (const NamedSignal& s : named_signals) {
    if (s.number == signal) {
      return fmt::format("SIG{}", s.name);
    }
  }
  const int rtmin = SIGRTMIN;
  const int rtmax = SIGRTMAX;
  if (signal == rtmin) {
    return "SIGRTMIN";
  }
  if (signal == rtmax) {
    return "SIGRTMAX";
  }
  // Split as kill -l does: the lower half counts up from RTMIN, the upper half down from RTMAX.
  if (signal > rtmin && signal < rtmax) {
    if (signal - rtmin <= (rtmax - rtmin) / 2) {
      return fmt::format("SIGRTMIN+{}", signal - rtmin);
    }
    return fmt::format("SIGRTMAX-{}", rtmax - signal);
  }
  return fmt::format("{}", signal);
}

}  // namespace gctool
