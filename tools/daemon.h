// What ringd and kvd share as daemons: the exit-code mapping of a refused open, the stderr
// logger, the stop signals and the wait for them. Called from main's thread only.
//   sigset_t signals = tools::block_stop_signals();
//   ... open, start ...
//   return tools::run_until_stopped("ringd", signals, [&] { node.stop(); }, [&] { return node.failure(); });
#pragma once

#include <signal.h>

#include <functional>
#include <string>

#include <optional>

#include "ringkeeper/node.h"
#include "ringkeeper/status.h"

namespace CLI {
class App;
}

namespace ringkeeper::tools {

struct NodeFlags;

// Parses a daemon's command line (the node flags of tools/settings.h, added to `app` beforehand,
// plus the daemon's own) into `config` and `log_level`; an exit code when it ends here: 0 for
// --help and --version, 2 for bad flags, a bad --config file or bad settings (one line on stderr).
std::optional<int> parse_daemon_flags(const char* prog, CLI::App& app, NodeFlags& flags, int argc, char** argv,
                                      NodeConfig& config, std::string& log_level);
// Prints "PROG: MESSAGE" on stderr and returns `code`.
int fail(const char* prog, int code, const std::string& message);
// The daemon's exit code for a node that could not be opened: 2 bad settings, 3 data dir
// refused, 1 anything else — the one place the library's codes become exit codes.
int open_exit_code(const Status& s);
// spdlog's default logger on stderr, named `name`, at `level` (trace|debug|...|off).
void log_to_stderr(const std::string& name, const std::string& level);
// Blocks SIGTERM, SIGINT and SIGHUP (taken synchronously by run_until_stopped; threads started
// later inherit the mask) and ignores SIGPIPE. Returns the blocked set.
sigset_t block_stop_signals();
// Waits for SIGTERM/SIGINT/SIGHUP (then `stop`, exit 0: SIGHUP is a stop, not a reload) or the
// node's own failure (`failure` not ok: then `stop`, exit 1 with its message).
int run_until_stopped(const char* prog, const sigset_t& signals, const std::function<void()>& stop,
                      const std::function<Status()>& failure);

}  // namespace ringkeeper::tools
