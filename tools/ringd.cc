// ringd: runs one ringkeeper node. Flags, defaults and exit codes are the contract in
// docs/operations.md: 0 clean stop, 1 runtime failure, 2 bad flags, 3 data dir refused.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
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

}  // namespace

int main(int argc, char** argv) {
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
  NodeConfig config;
  std::string error;
  if (!tools::resolve_node_flags(app, flags, config, &error)) return fail(2, error);

  auto logger = spdlog::stderr_color_mt("ringd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(flags.log_level));

  // Signals are taken synchronously by this thread; the node thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto opened = Node::open(config);
  if (!opened.node) return fail(opened.exit_code, opened.message);
  Node& node = *opened.node;
  if (std::string err = node.start(); !err.empty()) return fail(1, err);
  for (;;) {
    timespec wait{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: telling peers and stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      node.stop();
      return 0;
    }
    if (node.failed()) {
      std::string why = node.failure();
      node.stop();
      return fail(1, why);
    }
  }
}
