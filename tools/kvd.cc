// kvd: the Dynamo-style KV server that embeds a ringkeeper node (docs/kvd.md). It takes every
// ringd flag plus --kv HOST:PORT, serves the admin API and /metrics like ringd on --admin, and
// the data API on --kv. Exit codes as ringd's: 0 clean stop, 1 runtime failure, 2 bad flags,
// 3 data dir refused. This file only parses flags (its own in tools/kvd_flags.h) and maps Status
// codes to exit codes; the server is kv::KvServer.
#include <signal.h>

#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "kv/kv_server.h"
#include "ringkeeper/node.h"
#include "ringkeeper/version.h"
#include "tools/daemon.h"
#include "tools/kvd_flags.h"
#include "tools/settings.h"

namespace {

std::optional<int> parse_flags(int argc, char** argv, ringkeeper::kv::KvConfig& config, std::string& log_level) {
  using namespace ringkeeper;
  CLI::App app{"kvd: a Dynamo-style key-value server on a ringkeeper node — quorum reads and writes over\n"
               "the ring's replicas, streaming on ownership changes, hinted handoff, read repair.\n"
               "Data API: PUT/GET/DELETE http://KV/kv/KEY (docs/kvd.md)."};
  app.set_version_flag("--version", std::string("kvd ") + kVersion);
  app.footer("Exit codes: 0 clean stop (SIGTERM/SIGINT/SIGHUP), 1 runtime failure, 2 bad flags or settings,\n"
             "3 data dir refused (newer or unknown format, corrupt, locked). See docs/kvd.md.");
  tools::NodeFlags flags;
  tools::add_node_flags(app, flags);
  tools::KvdFlags kvd_flags;
  tools::add_kvd_flags(app, kvd_flags);
  if (auto exit_code = tools::parse_daemon_flags("kvd", app, flags, argc, argv, config.node, log_level)) {
    return exit_code;
  }
  std::string error;
  if (!tools::resolve_kvd_flags(flags, kvd_flags, config, &error)) return tools::fail("kvd", 2, error);
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringkeeper;
  kv::KvConfig config;
  std::string log_level;
  if (std::optional<int> exit_code = parse_flags(argc, argv, config, log_level)) return *exit_code;
  tools::log_to_stderr("kvd", log_level);

  // Signals are taken synchronously by this thread; the node's threads inherit the mask.
  const sigset_t signals = tools::block_stop_signals();

  config.log = [](LogLevel level, std::string_view line) {
    switch (level) {
      case LogLevel::kDebug: spdlog::debug("kv: {}", line); break;
      case LogLevel::kInfo: spdlog::info("kv: {}", line); break;
      case LogLevel::kWarn: spdlog::warn("kv: {}", line); break;
      default: spdlog::error("kv: {}", line); break;
    }
  };
  auto opened = kv::KvServer::open(config);
  if (!opened.ok()) return tools::fail("kvd", tools::open_exit_code(opened.status()), opened.status().message());
  if (Status s = (*opened)->start(); !s.ok()) return tools::fail("kvd", 1, s.message());
  spdlog::info("kv data API on {}", (*opened)->kv_address());
  kv::KvServer& kv = **opened;
  return tools::run_until_stopped("kvd", signals, [&] { kv.stop(); }, [&] { return kv.node().failure(); });
}
