// RuntimeLog: the runtime's formatted log lines, all through its Env's logger (so an embedder's
// log sink, or a simulated Env, sees every one). LogThrottle: at most one line per period for
// lines that remote input could repeat without bound. Any thread may log; a LogThrottle belongs
// to the thread that uses it (the node thread).
//   log.warn("no seed has answered yet ({}); still retrying", seeds);
#pragma once

#include <cstdint>
#include <utility>

#include <fmt/format.h>

#include "node/env.h"

namespace ringkeeper {

class RuntimeLog {
 public:
  explicit RuntimeLog(Env& env) : env_(env) {}

  template <class... A> void info(fmt::format_string<A...> f, A&&... a) { emit(LogLevel::kInfo, f, fmt::make_format_args(a...)); }
  template <class... A> void warn(fmt::format_string<A...> f, A&&... a) { emit(LogLevel::kWarn, f, fmt::make_format_args(a...)); }
  template <class... A> void error(fmt::format_string<A...> f, A&&... a) { emit(LogLevel::kError, f, fmt::make_format_args(a...)); }
  template <class... A> void critical(fmt::format_string<A...> f, A&&... a) { emit(LogLevel::kCritical, f, fmt::make_format_args(a...)); }

 private:
  // The format string was checked at compile time by the caller's fmt::format_string.
  void emit(LogLevel level, fmt::string_view f, fmt::format_args args) { env_.log(level, fmt::vformat(f, args)); }
  Env& env_;
};

// Lets one line through per `period_ms` of the Env's steady clock and counts the rest.
class LogThrottle {
 public:
  explicit LogThrottle(EnvMillis period_ms) : period_ms_(period_ms) {}
  // True when a line may be logged at `now_ms`; false counts one suppressed line.
  bool allow(EnvMillis now_ms) {
    if (logged_ && now_ms - last_ms_ < period_ms_) {
      ++suppressed_;
      return false;
    }
    logged_ = true;
    last_ms_ = now_ms;
    return true;
  }
  // Lines suppressed since the last one let through; resets the count.
  uint64_t take_suppressed() { return std::exchange(suppressed_, 0); }
  // True once a line was let through.
  bool ever_logged() const { return logged_; }

 private:
  EnvMillis period_ms_;
  bool logged_ = false;
  EnvMillis last_ms_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace ringkeeper
