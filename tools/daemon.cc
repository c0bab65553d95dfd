#include "tools/daemon.h"

#include <time.h>

#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "tools/settings.h"

namespace ringkeeper::tools {

std::optional<int> parse_daemon_flags(const char* prog, CLI::App& app, NodeFlags& flags, int argc, char** argv,
                                      NodeConfig& config, std::string& log_level) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::FileError& e) {  // the --config file could not be read
    return fail(prog, 2, std::string("--config: ") + e.what());
  } catch (const CLI::ConfigError& e) {  // its message names the file and the setting
    return fail(prog, 2, e.what());
  } catch (const CLI::ParseError& e) {
    return fail(prog, 2, std::string(e.what()) + " (see " + prog + " --help)");
  }
  std::string error;
  if (!resolve_node_flags(app, flags, config, &error)) return fail(prog, 2, error);
  log_level = flags.log_level;
  return std::nullopt;
}

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
  sigaddset(&signals, SIGHUP);  // a closed terminal or session: stop cleanly, not die with 129
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

int run_until_stopped(const char* prog, const sigset_t& signals, const std::function<void()>& stop,
                      const std::function<Status()>& failure) {
  for (;;) {
    timespec wait{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
      spdlog::info("{}: telling peers and stopping", sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGHUP");
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
