#include "tools/daemon.h"

#include <time.h>

#include <cstdio>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace ringkeeper::tools {

int fail(const char* prog, int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", prog, message.c_str());
  return code;
}

int open_exit_code(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument: return 2;
    case StatusCode::kDataDirRefused: return 3;
    default: return 1;
  }
}

void log_to_stderr(const std::string& name, const std::string& level) {
  auto logger = spdlog::stderr_color_mt(name);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

int run_until_stopped(const char* prog, const sigset_t& signals, const std::function<void()>& stop,
                      const std::function<Status()>& failure) {
  for (;;) {
    timespec wait{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: telling peers and stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      stop();
      return 0;
    }
    if (Status why = failure(); !why.ok()) {
      stop();
      return fail(prog, 1, why.message());
    }
  }
}

}  // namespace ringkeeper::tools
