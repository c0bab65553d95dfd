// ringd: runs one ringkeeper node. Flags, defaults and exit codes are the contract in
// docs/operations.md: 0 clean stop, 1 runtime failure, 2 bad flags, 3 data dir refused. The library
// answers Status codes; ringd and kvd alone turn them into exit codes (tools/daemon.h).
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <sstream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "ringkeeper/node.h"
#include "ringkeeper/version.h"
#include "tools/daemon.h"
#include "tools/settings.h"

namespace {

// Parses the command line into `config`; an exit code when ringd ends here (--help, --version,
// bad flags or settings: 2).
std::optional<int> parse_flags(int argc, char** argv, ringkeeper::NodeConfig& config, std::string& log_level) {
  using namespace ringkeeper;
  CLI::App app{"ringd: one ringkeeper node — gossips ring membership and token ownership with its peers,\n"
               "persists it in DIR, and serves the admin API that ringctl talks to."};
  app.set_version_flag("--version", std::string("ringd ") + kVersion);
  app.footer("Exit codes: 0 clean stop (SIGTERM/SIGINT/SIGHUP), 1 runtime failure, 2 bad flags or settings,\n"
             "3 data dir refused (newer or unknown format, corrupt, locked). See docs/operations.md.");
  tools::NodeFlags flags;
  tools::add_node_flags(app, flags);
  return tools::parse_daemon_flags("ringd", app, flags, argc, argv, config, log_level);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringkeeper;
  NodeConfig config;
  std::string log_level;
  if (std::optional<int> exit_code = parse_flags(argc, argv, config, log_level)) return *exit_code;
  tools::log_to_stderr("ringd", log_level);

  // Signals are taken synchronously by this thread; the node's threads inherit the mask.
  const sigset_t signals = tools::block_stop_signals();

  auto opened = Node::open(config);
  if (!opened.ok()) return tools::fail("ringd", tools::open_exit_code(opened.status()), opened.status().message());
  // Whatever start() refuses (a port in use, a wildcard address without --advertise) is exit 1.
  if (Status s = (*opened)->start(); !s.ok()) return tools::fail("ringd", 1, s.message());
  Node& node = **opened;
  return tools::run_until_stopped("ringd", signals, [&] { node.stop(); }, [&] { return node.failure(); });
}
