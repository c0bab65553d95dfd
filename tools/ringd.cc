// ringd: runs one ringkeeper node. Flags, defaults and exit codes are the contract in
// docs/operations.md: 0 clean stop, 1 runtime failure, 2 bad flags, 3 data dir refused. The library
// answers Status codes; this file alone turns them into exit codes (open_exit_code).
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <sstream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "ringkeeper/node.h"
#include "ringkeeper/version.h"
#include "tools/settings.h"

namespace {

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "ringd: %s\n", message.c_str());
  return code;
}

// ringd's exit code for a node that could not be opened: 2 bad settings, 3 data dir refused, 1
// anything else. The library's codes carry no exit codes; this is the one place they become one.
int open_exit_code(const ringkeeper::Status& s) {
  switch (s.code()) {
    case ringkeeper::StatusCode::kInvalidArgument: return 2;
    case ringkeeper::StatusCode::kDataDirRefused: return 3;
    default: return 1;
  }
}

// Parses the command line into `config`; an exit code when ringd ends here (--help, --version,
// bad flags or settings: 2).
std::optional<int> parse_flags(int argc, char** argv, ringkeeper::NodeConfig& config, std::string& log_level) {
  using namespace ringkeeper;
  CLI::App app{"ringd: one ringkeeper node — gossips ring membership and token ownership with its peers,\n"
               "persists it in DIR, and serves the admin API that ringctl talks to."};
  app.set_version_flag("--version", std::string("ringd ") + kVersion);
  app.footer("Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 runtime failure, 2 bad flags or settings,\n"
             "3 data dir refused (newer or unknown format, corrupt, locked). See docs/operations.md.");
  tools::NodeFlags flags;
  tools::add_node_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::FileError& e) {  // the --config file could not be read
    return fail(2, std::string("--config: ") + e.what());
  } catch (const CLI::ConfigError& e) {  // its message names the file and the setting
    return fail(2, e.what());
  } catch (const CLI::ParseError& e) {
    return fail(2, std::string(e.what()) + " (see ringd --help)");
  }
  std::string error;
  if (!tools::resolve_node_flags(app, flags, config, &error)) return fail(2, error);
  log_level = flags.log_level;
  return std::nullopt;
}

void log_to_stderr(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("ringd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

// Runs a started node until SIGTERM/SIGINT (a clean stop: 0) or its own failure (1).
int run(ringkeeper::Node& node, const sigset_t& signals) {
  for (;;) {
    timespec wait{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: telling peers and stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      node.stop();
      return 0;
    }
    if (node.failed()) {
      const ringkeeper::Status why = node.failure();
      node.stop();
      return fail(1, why.message());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringkeeper;
  NodeConfig config;
  std::string log_level;
  if (std::optional<int> exit_code = parse_flags(argc, argv, config, log_level)) return *exit_code;
  log_to_stderr(log_level);

  // Signals are taken synchronously by this thread; the node thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto opened = Node::open(config);
  if (!opened.ok()) return fail(open_exit_code(opened.status()), opened.status().message());
  // Whatever start() refuses (a port in use, a wildcard address without --advertise) is exit 1.
  if (Status s = (*opened)->start(); !s.ok()) return fail(1, s.message());
  return run(**opened, signals);
}
